DROP TABLE IF EXISTS "ApprovalRequest";
DROP FUNCTION IF EXISTS ncy_approval_guard();
DROP TYPE IF EXISTS "ApprovalStatus";
