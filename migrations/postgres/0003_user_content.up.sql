-- Tables the platform's Prisma User model references (notifications, files, messages, settings).

CREATE TABLE "Notification" (
  "id" UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "user_id" UUID NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "type" VARCHAR(100) NOT NULL,
  "title" VARCHAR(255) NOT NULL,
  "body" TEXT,
  "data" JSONB DEFAULT '{}',
  "read_at" TIMESTAMP(3),
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "Notification_user_id_created_at_idx" ON "Notification"("user_id", "created_at");
CREATE INDEX "Notification_user_id_unread_idx" ON "Notification"("user_id") WHERE "read_at" IS NULL;

CREATE TABLE "File" (
  "id" UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "user_id" UUID NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "organization_id" UUID REFERENCES "Organization"("id") ON DELETE SET NULL,
  "name" VARCHAR(255) NOT NULL,
  "mime_type" VARCHAR(255),
  "size" BIGINT NOT NULL DEFAULT 0,
  "storage_path" TEXT NOT NULL,
  "checksum" VARCHAR(128),
  "metadata" JSONB DEFAULT '{}',
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "deleted_at" TIMESTAMP(3)
);
CREATE INDEX "File_user_id_idx" ON "File"("user_id") WHERE "deleted_at" IS NULL;
CREATE INDEX "File_organization_id_idx" ON "File"("organization_id") WHERE "deleted_at" IS NULL;

CREATE TABLE "Message" (
  "id" UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "sender_id" UUID REFERENCES "User"("id") ON DELETE SET NULL,
  "receiver_id" UUID REFERENCES "User"("id") ON DELETE SET NULL,
  "subject" VARCHAR(255),
  "body" TEXT NOT NULL,
  "read_at" TIMESTAMP(3),
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "deleted_at" TIMESTAMP(3)
);
CREATE INDEX "Message_sender_id_idx" ON "Message"("sender_id", "created_at");
CREATE INDEX "Message_receiver_id_idx" ON "Message"("receiver_id", "created_at");

-- Key/value settings: per user, or global when user_id is NULL.
CREATE TABLE "Settings" (
  "id" UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "user_id" UUID REFERENCES "User"("id") ON DELETE CASCADE,
  "key" VARCHAR(100) NOT NULL,
  "value" JSONB NOT NULL DEFAULT 'null',
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX "Settings_user_id_key_key" ON "Settings"("user_id", "key") WHERE "user_id" IS NOT NULL;
CREATE UNIQUE INDEX "Settings_global_key_key" ON "Settings"("key") WHERE "user_id" IS NULL;
