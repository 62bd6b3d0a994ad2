-- Slack: the messages that show each approval, deliveries already handled, and refused clicks.

-- One row per approval and destination: a configured channel id, or 'dm:' || approver email. channel is the
-- conversation Slack posted in (chat.update needs its id, which for a direct message differs from the target);
-- version is the approval version the message shows, so an older notice never overwrites a newer card.
CREATE TABLE slack_message (
    approval_id  uuid NOT NULL REFERENCES wf_instance (id),
    target       text NOT NULL,
    channel      text NOT NULL,
    ts           text NOT NULL,
    version      int NOT NULL,
    posted_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (approval_id, target)
);

-- Interactivity deliveries seen recently, shared by every node: the signature of an HTTP request (a replayed capture
-- carries the same one) or a digest of a Socket Mode payload (Slack redelivers after a reconnect). Rows are useless
-- once the signature's timestamp leaves the replay window, and are deleted then.
CREATE TABLE slack_delivery_seen (
    key         text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX slack_delivery_seen_expires ON slack_delivery_seen (expires_at);

-- Clicks refused before they reached the approval: people outside the approver groups, the agent's own owner,
-- Slack users without a readable email. approval_id has no foreign key: a click may name an approval that does not exist.
CREATE TABLE slack_refusal (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    approval_id  uuid,
    team_id      text,
    user_id      text NOT NULL,
    email        text,
    action       text NOT NULL,
    reason       text NOT NULL
);
CREATE INDEX slack_refusal_approval ON slack_refusal (approval_id, at);
