-- hand-written: the SQLite side of migrations/postgres/0007_sync.up.sql. Same tables (the two
-- schemas carry the same table set), no triggers: a SQLite store is the client of a sync (the
-- offline cache uses SyncOutbox, SyncConflict and SyncState); SyncChange and SyncMutation only
-- fill up on the PostgreSQL server.

CREATE TABLE "SyncChange" (
  "seq" INTEGER PRIMARY KEY AUTOINCREMENT,
  "xid" INTEGER NOT NULL DEFAULT 0,
  "table_name" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "row_id2" TEXT,
  "op" TEXT NOT NULL CHECK ("op" IN ('insert', 'update', 'delete')),
  "changed_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX "SyncChange_xid_idx" ON "SyncChange"("xid");

CREATE TABLE "SyncMutation" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "table_name" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "status" TEXT NOT NULL CHECK ("status" IN ('applied', 'noop', 'conflict', 'rejected')),
  "result" TEXT NOT NULL DEFAULT '{}' CHECK (json_valid("result")),
  "operator_id" TEXT,
  "local_time" TEXT NOT NULL,
  "applied_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE "SyncOutbox" (
  "seq" INTEGER PRIMARY KEY AUTOINCREMENT,
  "mutation_id" TEXT UNIQUE NOT NULL,
  "table_name" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "base" TEXT NOT NULL CHECK (json_valid("base")),
  "new" TEXT NOT NULL CHECK (json_valid("new")),
  "operator_id" TEXT NOT NULL,
  "operator_email" TEXT NOT NULL,
  "local_time" TEXT NOT NULL,
  "status" TEXT NOT NULL DEFAULT 'pending' CHECK ("status" IN ('pending', 'applied', 'noop', 'conflict', 'rejected')),
  "pushed_at" TEXT
);
CREATE INDEX "SyncOutbox_row_id_idx" ON "SyncOutbox"("row_id");

CREATE TABLE "SyncConflict" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "mutation_id" TEXT NOT NULL,
  "table_name" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "field" TEXT NOT NULL,
  "base" TEXT CHECK ("base" IS NULL OR json_valid("base")),
  "mine" TEXT CHECK ("mine" IS NULL OR json_valid("mine")),
  "theirs" TEXT CHECK ("theirs" IS NULL OR json_valid("theirs")),
  "reason" TEXT NOT NULL,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "resolved_at" TEXT,
  "resolution" TEXT
);

CREATE TABLE "SyncState" (
  "key" TEXT PRIMARY KEY NOT NULL,
  "value" TEXT NOT NULL
);
