-- hand-written: undoes migrations/sqlite/0010_database_authority.up.sql.
DROP TABLE IF EXISTS "AuditCheckpoint";
DROP TABLE IF EXISTS "AuditChain";
DROP INDEX IF EXISTS "OperatorRole_created_by_idx";
DROP TABLE IF EXISTS "OperatorRole";
ALTER TABLE "AuditLog" DROP COLUMN "redacted_at";
ALTER TABLE "AuditLog" DROP COLUMN "txid";
ALTER TABLE "AuditLog" DROP COLUMN "chain_hash";
ALTER TABLE "AuditLog" DROP COLUMN "prev_hash";
ALTER TABLE "AuditLog" DROP COLUMN "digest";
ALTER TABLE "AuditLog" DROP COLUMN "seq";
