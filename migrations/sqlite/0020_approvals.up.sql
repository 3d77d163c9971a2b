-- hand-written: the table of migrations/postgres/0020_approvals.up.sql with SQLite's types. The
-- status rules live in the core (a local workspace has one person at the keyboard); the
-- four-eyes CHECK is the same.
CREATE TABLE "ApprovalRequest" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "action" TEXT NOT NULL CHECK (length("action") <= 50),
  "permission" TEXT NOT NULL CHECK (length("permission") <= 100),
  "target" TEXT CHECK (length("target") <= 255),
  "summary" TEXT NOT NULL CHECK (length("summary") <= 1000),
  "payload" TEXT NOT NULL CHECK (json_valid("payload")),
  "status" TEXT NOT NULL DEFAULT 'PENDING' CHECK ("status" IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED', 'EXECUTED', 'FAILED')),
  "requested_by" TEXT NOT NULL REFERENCES "User"("id") ON DELETE RESTRICT,
  "requested_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "decided_by" TEXT REFERENCES "User"("id") ON DELETE RESTRICT,
  "decided_at" TEXT,
  "reason" TEXT CHECK (length("reason") <= 1000),
  "executed_at" TEXT,
  "result" TEXT CHECK (json_valid("result")),
  "error" TEXT,
  CONSTRAINT "ApprovalRequest_four_eyes" CHECK ("decided_by" IS NULL OR "decided_by" <> "requested_by" OR "status" = 'CANCELLED')
);
CREATE INDEX "ApprovalRequest_status_requested_at_idx" ON "ApprovalRequest"("status", "requested_at");
CREATE INDEX "ApprovalRequest_requested_by_idx" ON "ApprovalRequest"("requested_by");
CREATE INDEX "ApprovalRequest_decided_by_idx" ON "ApprovalRequest"("decided_by");
