-- Tables the platform's Prisma User model references (notifications, files, messages, settings).

CREATE TABLE "Notification" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "type" TEXT NOT NULL CHECK (length("type") <= 100),
  "title" TEXT NOT NULL CHECK (length("title") <= 255),
  "body" TEXT,
  "data" TEXT DEFAULT '{}' CHECK (json_valid("data")),
  "read_at" TEXT,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE INDEX "Notification_user_id_created_at_idx" ON "Notification"("user_id", "created_at");
CREATE INDEX "Notification_user_id_unread_idx" ON "Notification"("user_id") WHERE "read_at" IS NULL;

CREATE TABLE "File" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "organization_id" TEXT REFERENCES "Organization"("id") ON DELETE SET NULL,
  "name" TEXT NOT NULL CHECK (length("name") <= 255),
  "mime_type" TEXT CHECK (length("mime_type") <= 255),
  "size" BIGINT NOT NULL DEFAULT 0,
  "storage_path" TEXT NOT NULL,
  "checksum" TEXT CHECK (length("checksum") <= 128),
  "metadata" TEXT DEFAULT '{}' CHECK (json_valid("metadata")),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "deleted_at" TEXT
);
CREATE INDEX "File_user_id_idx" ON "File"("user_id") WHERE "deleted_at" IS NULL;
CREATE INDEX "File_organization_id_idx" ON "File"("organization_id") WHERE "deleted_at" IS NULL;

CREATE TABLE "Message" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "sender_id" TEXT REFERENCES "User"("id") ON DELETE SET NULL,
  "receiver_id" TEXT REFERENCES "User"("id") ON DELETE SET NULL,
  "subject" TEXT CHECK (length("subject") <= 255),
  "body" TEXT NOT NULL,
  "read_at" TEXT,
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "deleted_at" TEXT
);
CREATE INDEX "Message_sender_id_idx" ON "Message"("sender_id", "created_at");
CREATE INDEX "Message_receiver_id_idx" ON "Message"("receiver_id", "created_at");

-- Key/value settings: per user, or global when user_id is NULL.
CREATE TABLE "Settings" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT REFERENCES "User"("id") ON DELETE CASCADE,
  "key" TEXT NOT NULL CHECK (length("key") <= 100),
  "value" TEXT NOT NULL DEFAULT 'null' CHECK (json_valid("value")),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE UNIQUE INDEX "Settings_user_id_key_key" ON "Settings"("user_id", "key") WHERE "user_id" IS NOT NULL;
CREATE UNIQUE INDEX "Settings_global_key_key" ON "Settings"("key") WHERE "user_id" IS NULL;
