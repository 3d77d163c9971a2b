-- GDPR requests, consent records and backup snapshots.
-- GdprRequest accepts the platform's own values too: its GdprService files type 'DELETE'
-- (an erasure) with status 'PENDING' (received).

CREATE TABLE "GdprRequest" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT REFERENCES "User"("id") ON DELETE SET NULL,
  "type" TEXT NOT NULL CHECK ("type" IN ('ACCESS', 'EXPORT', 'ERASURE', 'RECTIFICATION', 'RESTRICTION', 'DELETE')),
  "status" TEXT NOT NULL DEFAULT 'RECEIVED' CHECK ("status" IN ('PENDING', 'RECEIVED', 'VERIFYING_IDENTITY', 'IN_PROGRESS', 'COMPLETED', 'REJECTED')),
  "received_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "due_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 month')),
  "extended_due_at" TEXT,
  "extension_reason" TEXT,
  "identity_verified_at" TEXT,
  "identity_verified_by" TEXT REFERENCES "User"("id") ON DELETE SET NULL,
  "identity_method" TEXT,
  "handler_id" TEXT REFERENCES "User"("id") ON DELETE SET NULL,
  "completed_at" TEXT,
  "rejection_reason" TEXT,
  "notes" TEXT,
  "result_path" TEXT,
  "receipt" TEXT CHECK (json_valid("receipt")),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX "GdprRequest_user_id_idx" ON "GdprRequest"("user_id");
CREATE INDEX "GdprRequest_open_due_idx" ON "GdprRequest"("due_at") WHERE "status" NOT IN ('COMPLETED', 'REJECTED');

CREATE TABLE "Consent" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "purpose" TEXT NOT NULL CHECK (length("purpose") <= 100),
  "granted" INTEGER NOT NULL CHECK ("granted" IN (0, 1)),
  "granted_at" TEXT,
  "withdrawn_at" TEXT,
  "source" TEXT CHECK (length("source") <= 100),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX "Consent_user_id_purpose_idx" ON "Consent"("user_id", "purpose", "created_at");

CREATE TABLE "BackupSnapshot" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "path" TEXT NOT NULL,
  "size" BIGINT NOT NULL,
  "verified" INTEGER NOT NULL DEFAULT 0 CHECK ("verified" IN (0, 1)),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "sha256" TEXT CHECK (length("sha256") <= 64),
  "duration_ms" INTEGER,
  "database" TEXT CHECK (length("database") <= 255),
  "server_version" TEXT,
  "format" TEXT DEFAULT 'custom' CHECK (length("format") <= 20),
  "compression" INTEGER,
  "table_counts" TEXT CHECK (json_valid("table_counts")),
  "verified_at" TEXT,
  "verification" TEXT CHECK (json_valid("verification")),
  "created_by" TEXT REFERENCES "User"("id") ON DELETE SET NULL
);
CREATE INDEX "BackupSnapshot_created_at_idx" ON "BackupSnapshot"("created_at");
