-- hand-written: the SQLite side of migrations/postgres/0010_database_authority.up.sql. Same
-- tables and columns (the two schemas carry the same table set); no roles, grants, policies or
-- triggers: a local workspace has one user at the keyboard, and the audit hash chain is kept by
-- PostgreSQL (`audit verify` says so on a local workspace).

ALTER TABLE "AuditLog" ADD COLUMN "seq" INTEGER;
ALTER TABLE "AuditLog" ADD COLUMN "digest" BLOB;
ALTER TABLE "AuditLog" ADD COLUMN "prev_hash" BLOB;
ALTER TABLE "AuditLog" ADD COLUMN "chain_hash" BLOB;
ALTER TABLE "AuditLog" ADD COLUMN "txid" INTEGER;
ALTER TABLE "AuditLog" ADD COLUMN "redacted_at" TEXT;

CREATE TABLE "OperatorRole" (
  "db_role" TEXT PRIMARY KEY NOT NULL,
  "user_id" TEXT UNIQUE NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "created_by" TEXT REFERENCES "User"("id") ON DELETE SET NULL,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "rotated_at" TEXT
);
CREATE INDEX "OperatorRole_created_by_idx" ON "OperatorRole"("created_by");

CREATE TABLE "AuditChain" (
  "id" INTEGER PRIMARY KEY CHECK ("id" = 1),
  "seq" INTEGER NOT NULL,
  "head" BLOB NOT NULL
);

CREATE TABLE "AuditCheckpoint" (
  "seq" INTEGER PRIMARY KEY,
  "chain_hash" BLOB NOT NULL,
  "rows_before" INTEGER NOT NULL,
  "created_by" TEXT,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
