DROP POLICY operator_update ON "User";
DROP POLICY operator_insert ON "User";
DROP POLICY operator_read ON "User";
DROP POLICY platform ON "User";
ALTER TABLE "User" DISABLE ROW LEVEL SECURITY;
DROP FUNCTION ncy_works_with(uuid);
