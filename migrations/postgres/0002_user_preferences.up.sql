-- The platform's own migration example (20240115000000_add_user_preferences.sql).
CREATE TABLE "UserPreferences" (
  "id" UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "user_id" UUID NOT NULL REFERENCES "User"("id") ON DELETE CASCADE,
  "preferences" JSONB DEFAULT '{}',
  "timezone" VARCHAR(50) DEFAULT 'UTC',
  "locale" VARCHAR(10) DEFAULT 'en',
  "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX "UserPreferences_user_id_idx" ON "UserPreferences"("user_id");
