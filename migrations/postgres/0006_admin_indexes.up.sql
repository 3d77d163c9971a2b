-- Indexes for the administration client's queries beyond the platform's Indexing Strategy.
-- Audit search by target (any table) with newest-first keyset paging: the platform's
-- ("target_table", "target_id") index cannot serve a lookup by target id alone.
CREATE INDEX "AuditLog_target_id_created_at_idx" ON "AuditLog"("target_id", "created_at", "id");
-- Keyset pages of the access log (newest first).
CREATE INDEX "AccessLog_timestamp_id_idx" ON "AccessLog"("timestamp", "id");
CREATE INDEX "ErrorLog_created_at_id_idx" ON "ErrorLog"("created_at", "id");
