-- hand-written: kept alongside 0020_approvals.up.sql.
DROP TABLE IF EXISTS "ApprovalRequest";
