-- hand-written: SQLite has no PL/pgSQL, so anonymize_user_data() exists on PostgreSQL only (the
-- client's erasure in crates/gdpr performs the same rules on both stores). Tables and indexes
-- match migrations/postgres/0008_gdpr.up.sql.

CREATE TABLE "LegalHold" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "reason" TEXT NOT NULL,
  "placed_by" TEXT REFERENCES "User"("id") ON DELETE SET NULL,
  "placed_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "released_by" TEXT REFERENCES "User"("id") ON DELETE SET NULL,
  "released_at" TEXT,
  "release_reason" TEXT
);
CREATE INDEX "LegalHold_user_id_active_idx" ON "LegalHold"("user_id") WHERE "released_at" IS NULL;

CREATE INDEX "AuditLog_user_id_created_at_id_idx" ON "AuditLog"("user_id", "created_at", "id");
CREATE INDEX "AccessLog_user_id_timestamp_id_idx" ON "AccessLog"("user_id", "timestamp", "id");
CREATE INDEX "AccessLog_timestamp_idx" ON "AccessLog"("timestamp");
CREATE INDEX "LoginAttempt_user_id_idx" ON "LoginAttempt"("user_id");
CREATE INDEX "Consent_user_id_created_at_idx" ON "Consent"("user_id", "created_at", "id");
