-- Policy's part of a tool-call record.
-- shadow_decision, shadow_rule: what a rule in `mode: detect` would have decided, next to the decision applied; null
--   when no shadow rule matched.
-- approval_id: the approval workflow (wf_instance.id) a gated call started or joined, or the earlier approval whose
--   `remember` grant let the call through; null for calls not gated.
-- executed_arguments_digest: set when an approver edited the arguments: the digest of what ran (arguments_digest is
--   still what the agent sent).
-- The chain hash covers them only when one is set (see ToolCallAuditChain), so records written before this migration
-- still verify.
ALTER TABLE tool_call_audit ADD COLUMN shadow_decision text, ADD COLUMN shadow_rule text, ADD COLUMN approval_id uuid,
    ADD COLUMN executed_arguments_digest text;
CREATE INDEX tool_call_audit_approval ON tool_call_audit (approval_id) WHERE approval_id IS NOT NULL;
