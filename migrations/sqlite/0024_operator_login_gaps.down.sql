-- hand-written: kept alongside 0024_operator_login_gaps.up.sql.
SELECT 1;
