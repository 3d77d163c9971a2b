-- Four-eyes approvals: a destructive action named in the setting `approvals.required` is filed
-- as a request that another operator holding the same permission approves; approval runs it
-- once. The database keeps the rules for operator logins too (psql included): the requester
-- and the decider are the connected operator, a request is never decided by its requester, the
-- decider holds the request's permission, and the status only moves forward
-- (PENDING -> APPROVED | REJECTED | CANCELLED, APPROVED -> EXECUTED | FAILED).

CREATE TYPE "ApprovalStatus" AS ENUM ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED', 'EXECUTED', 'FAILED');

CREATE TABLE "ApprovalRequest" (
  "id" UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  "action" VARCHAR(50) NOT NULL,
  "permission" VARCHAR(100) NOT NULL,
  "target" VARCHAR(255),
  "summary" VARCHAR(1000) NOT NULL,
  "payload" JSONB NOT NULL,
  "status" "ApprovalStatus" NOT NULL DEFAULT 'PENDING',
  "requested_by" UUID NOT NULL REFERENCES "User"("id") ON DELETE RESTRICT,
  "requested_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "decided_by" UUID REFERENCES "User"("id") ON DELETE RESTRICT,
  "decided_at" TIMESTAMP(3),
  "reason" VARCHAR(1000),
  "executed_at" TIMESTAMP(3),
  "result" JSONB,
  "error" TEXT,
  CONSTRAINT "ApprovalRequest_four_eyes" CHECK ("decided_by" IS NULL OR "decided_by" <> "requested_by" OR "status" = 'CANCELLED')
);
CREATE INDEX "ApprovalRequest_status_requested_at_idx" ON "ApprovalRequest"("status", "requested_at");
CREATE INDEX "ApprovalRequest_requested_by_idx" ON "ApprovalRequest"("requested_by");
CREATE INDEX "ApprovalRequest_decided_by_idx" ON "ApprovalRequest"("decided_by");

-- The rules above, for every role; for operator logins the acting user is the connection's.
CREATE FUNCTION ncy_approval_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  me uuid := ncy_active_user_id();
  operator boolean := ncy_is_operator();
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW."status" <> 'PENDING' OR NEW."decided_by" IS NOT NULL OR NEW."executed_at" IS NOT NULL THEN
      RAISE EXCEPTION 'an approval request starts PENDING and undecided' USING ERRCODE = 'check_violation';
    END IF;
    IF operator THEN
      IF me IS NULL OR NEW."requested_by" IS DISTINCT FROM me THEN
        RAISE EXCEPTION 'an approval request is filed by the connected operator' USING ERRCODE = 'insufficient_privilege';
      END IF;
      PERFORM ncy_require(NEW."permission");
    END IF;
    RETURN NEW;
  END IF;
  IF NEW."id" <> OLD."id" OR NEW."action" <> OLD."action" OR NEW."permission" <> OLD."permission"
     OR NEW."payload" <> OLD."payload" OR NEW."requested_by" <> OLD."requested_by"
     OR NEW."requested_at" <> OLD."requested_at" OR NEW."target" IS DISTINCT FROM OLD."target" THEN
    RAISE EXCEPTION 'what an approval request asks for cannot change; file a new one' USING ERRCODE = 'check_violation';
  END IF;
  IF NOT ((OLD."status" = 'PENDING' AND NEW."status" IN ('APPROVED', 'REJECTED', 'CANCELLED'))
          OR (OLD."status" = 'APPROVED' AND NEW."status" IN ('EXECUTED', 'FAILED'))) THEN
    RAISE EXCEPTION 'approval request %: % cannot become %', OLD."id", OLD."status", NEW."status"
      USING ERRCODE = 'check_violation';
  END IF;
  IF OLD."status" = 'PENDING' AND operator THEN
    IF me IS NULL OR NEW."decided_by" IS DISTINCT FROM me THEN
      RAISE EXCEPTION 'an approval request is decided by the connected operator' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW."status" = 'CANCELLED' AND me <> OLD."requested_by" THEN
      RAISE EXCEPTION 'only the requester cancels a request; reject it instead' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW."status" <> 'CANCELLED' THEN
      PERFORM ncy_require(OLD."permission");
    END IF;
  END IF;
  IF OLD."status" = 'APPROVED' AND operator AND me IS DISTINCT FROM OLD."decided_by" THEN
    RAISE EXCEPTION 'the approver records the outcome of the approved action' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER ncy_approval_guard BEFORE INSERT OR UPDATE ON "ApprovalRequest"
  FOR EACH ROW EXECUTE FUNCTION ncy_approval_guard();
CREATE CONSTRAINT TRIGGER ncy_audit_write AFTER INSERT OR UPDATE OR DELETE ON "ApprovalRequest"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (ncy_is_operator()) EXECUTE FUNCTION ncy_audit_write();

-- Operators read the queue and file, decide and complete requests (the guard keeps the rules);
-- nobody but the owner deletes one.
GRANT SELECT, INSERT, UPDATE ON "ApprovalRequest" TO ncy_operator;
