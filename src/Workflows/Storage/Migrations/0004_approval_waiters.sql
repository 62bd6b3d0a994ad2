-- Who is waiting for an approval's outcome: one row per held agent call, on any node. A wait that the agent
-- cancelled (notifications/cancelled, or a dropped connection) is marked so; when every wait of an open approval
-- was cancelled longer ago than its grace period, a node withdraws the approval (ApprovalWaiters). A node that dies
-- while holding leaves its row attached, which never withdraws anything: the safe side.
CREATE TABLE approval_waiter (
    id                uuid PRIMARY KEY,
    approval_id       uuid NOT NULL,
    node              text NOT NULL,
    since             timestamptz NOT NULL DEFAULT now(),
    detached_at       timestamptz,
    cancelled         boolean NOT NULL DEFAULT false,
    -- The rule's approval.withdrawAfter in milliseconds; null: never withdraw on the agent's behalf.
    withdraw_after_ms bigint CHECK (withdraw_after_ms > 0)
);

CREATE INDEX approval_waiter_approval ON approval_waiter (approval_id);
