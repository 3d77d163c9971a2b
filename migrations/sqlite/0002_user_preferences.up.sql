-- The platform's own migration example (20240115000000_add_user_preferences.sql).
CREATE TABLE "UserPreferences" (
  "id" TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))),
  "user_id" TEXT NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "preferences" TEXT DEFAULT '{}' CHECK (json_valid("preferences")),
  "timezone" TEXT DEFAULT 'UTC' CHECK (length("timezone") <= 50),
  "locale" TEXT DEFAULT 'en' CHECK (length("locale") <= 10),
  "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  "updated_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE INDEX "UserPreferences_user_id_idx" ON "UserPreferences"("user_id");
