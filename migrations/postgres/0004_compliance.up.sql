-- GDPR requests, consent records and backup snapshots.
-- GdprRequest accepts the platform's own values too: its GdprService files type 'DELETE'
-- (an erasure) with status 'PENDING' (received).

CREATE TYPE "GdprRequestType" AS ENUM ('ACCESS', 'EXPORT', 'ERASURE', 'RECTIFICATION', 'RESTRICTION', 'DELETE');
CREATE TYPE "GdprRequestStatus" AS ENUM ('PENDING', 'RECEIVED', 'VERIFYING_IDENTITY', 'IN_PROGRESS', 'COMPLETED', 'REJECTED');

CREATE TABLE "GdprRequest" (
  "id" UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "user_id" UUID REFERENCES "User"("id") ON DELETE SET NULL,
  "type" "GdprRequestType" NOT NULL,
  "status" "GdprRequestStatus" NOT NULL DEFAULT 'RECEIVED',
  "received_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "due_at" TIMESTAMP(3) NOT NULL DEFAULT (CURRENT_TIMESTAMP + INTERVAL '1 month'),
  "extended_due_at" TIMESTAMP(3),
  "extension_reason" TEXT,
  "identity_verified_at" TIMESTAMP(3),
  "identity_verified_by" UUID REFERENCES "User"("id") ON DELETE SET NULL,
  "identity_method" TEXT,
  "handler_id" UUID REFERENCES "User"("id") ON DELETE SET NULL,
  "completed_at" TIMESTAMP(3),
  "rejection_reason" TEXT,
  "notes" TEXT,
  "result_path" TEXT,
  "receipt" JSONB,
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "GdprRequest_user_id_idx" ON "GdprRequest"("user_id");
CREATE INDEX "GdprRequest_open_due_idx" ON "GdprRequest"("due_at") WHERE "status" NOT IN ('COMPLETED', 'REJECTED');

CREATE TABLE "Consent" (
  "id" UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "user_id" UUID NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "purpose" VARCHAR(100) NOT NULL,
  "granted" BOOLEAN NOT NULL,
  "granted_at" TIMESTAMP(3),
  "withdrawn_at" TIMESTAMP(3),
  "source" VARCHAR(100),
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "Consent_user_id_purpose_idx" ON "Consent"("user_id", "purpose", "created_at");

CREATE TABLE "BackupSnapshot" (
  "id" UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "path" TEXT NOT NULL,
  "size" BIGINT NOT NULL,
  "verified" BOOLEAN NOT NULL DEFAULT false,
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "sha256" VARCHAR(64),
  "duration_ms" INTEGER,
  "database" VARCHAR(255),
  "server_version" TEXT,
  "format" VARCHAR(20) DEFAULT 'custom',
  "compression" INTEGER,
  "table_counts" JSONB,
  "verified_at" TIMESTAMP(3),
  "verification" JSONB,
  "created_by" UUID REFERENCES "User"("id") ON DELETE SET NULL
);
CREATE INDEX "BackupSnapshot_created_at_idx" ON "BackupSnapshot"("created_at");
