-- The people's HTTP API (issue 8): which approvals a person may see, and time-ordered reads for the audit export.

-- The approvers of every stage (the request's and the escalation's), lower-cased so a lookup by email ignores case.
-- With deciders (who voted or decided) it says which approvals a person with only the approver role may see.
-- WorkflowStore writes it with the row; existing rows are filled from their state.
ALTER TABLE wf_instance ADD COLUMN approvers text[] NOT NULL DEFAULT '{}';
UPDATE wf_instance SET approvers = ARRAY(
    SELECT DISTINCT lower(a) FROM (
        SELECT jsonb_array_elements_text(coalesce(data -> 'request' -> 'approvers' -> 'approvers', '[]'::jsonb))
        UNION ALL
        SELECT jsonb_array_elements_text(coalesce(data -> 'request' -> 'escalateTo' -> 'approvers', '[]'::jsonb))
    ) AS stage (a)
    ORDER BY 1);
CREATE INDEX wf_instance_approvers ON wf_instance USING gin (approvers);
-- "Changed since": the approval stream's periodic re-read, which covers a lost NOTIFY.
CREATE INDEX wf_instance_updated ON wf_instance (updated_at, id);

-- The export reads every kind of event in time order; these let each kind be read in that order from an index.
CREATE INDEX wf_event_recorded_seq ON wf_event (recorded_at, wf_id, seq);
DROP INDEX wf_event_recorded;
CREATE INDEX slack_refusal_at ON slack_refusal (at, id);
CREATE INDEX teams_refusal_at ON teams_refusal (at, id);
