-- Users are isolated like the organizations (found by the RBAC matrix of the authority test):
-- every operator role could SELECT the id, email, role and status of every platform user,
-- while the app lists users only with users.read. Now an operator reads a user row when they
-- hold users.read (ADMIN, MANAGER, SYSTEM, SUPPORT, or a granted role), or when it is
-- themselves or someone they work with: a member, owner or task assignee of one of their
-- organizations (what the task screens name). The platform's own role is unaffected; the
-- SECURITY DEFINER helpers (owned by the schema owner) are not subject to it.
CREATE FUNCTION ncy_works_with(u uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u = ncy_active_user_id()
      OR EXISTS (SELECT 1 FROM "OrganizationMember" m
                  WHERE m."user_id" = u AND m."deleted_at" IS NULL
                    AND m."organization_id" = ANY (ncy_my_orgs(ARRAY['OWNER', 'ADMIN', 'MANAGER', 'MEMBER']::"OrgRole"[])))
      OR EXISTS (SELECT 1 FROM "Organization" o
                  WHERE o."owner_id" = u
                    AND o."id" = ANY (ncy_my_orgs(ARRAY['OWNER', 'ADMIN', 'MANAGER', 'MEMBER']::"OrgRole"[])))
      OR EXISTS (SELECT 1 FROM "Task" t JOIN "Project" p ON p."id" = t."project_id"
                  WHERE t."assignee_id" = u
                    AND p."organization_id" = ANY (ncy_my_orgs(ARRAY['OWNER', 'ADMIN', 'MANAGER', 'MEMBER']::"OrgRole"[])))
$$;
REVOKE ALL ON FUNCTION ncy_works_with(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ncy_works_with(uuid) TO ncy_operator;

ALTER TABLE "User" ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform ON "User" USING ((SELECT NOT ncy_is_operator()));
-- users.read is checked once per statement (an init plan), the per-row test only without it.
CREATE POLICY operator_read ON "User" FOR SELECT TO ncy_operator
  USING ((SELECT ncy_has_permission('users.read')) OR ncy_works_with("id"));
-- Writes stay what the column grants allow (ADMIN only); the rows are all of them.
CREATE POLICY operator_insert ON "User" FOR INSERT TO ncy_operator WITH CHECK (true);
CREATE POLICY operator_update ON "User" FOR UPDATE TO ncy_operator USING (true) WITH CHECK (true);
