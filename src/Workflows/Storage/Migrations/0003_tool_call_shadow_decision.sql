-- Shadow (detect-only) policy: what a rule in `mode: detect` would have decided, next to the decision that was applied.
-- Both are null when no shadow rule matched. The chain hash covers them only when set (see ToolCallAuditChain), so
-- records written before this migration still verify.
ALTER TABLE tool_call_audit ADD COLUMN shadow_decision text, ADD COLUMN shadow_rule text;
