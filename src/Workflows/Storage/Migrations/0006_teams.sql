-- Teams: where the bot is installed, the messages that show each approval, and refused clicks.

-- A conversation reference per conversation the bot was added to (conversationUpdate): a team channel, a personal
-- chat or a group chat. service_url is where the Bot Connector for that conversation lives (it came in a request
-- whose token we validated); cards for approver groups are sent to the channel or personal chat found here.
CREATE TABLE teams_conversation (
    conversation_id    text PRIMARY KEY,
    service_url        text NOT NULL,
    tenant_id          text,
    conversation_type  text,
    team_id            text,
    team_name          text,
    channel_id         text,
    channel_name       text,
    user_id            text,
    user_aad_object_id text,
    user_email         text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX teams_conversation_channel ON teams_conversation (channel_id);
CREATE INDEX teams_conversation_user ON teams_conversation (lower(user_email));

-- One row per approval and destination ('channel:' || conversation id, or 'user:' || email); version is the approval
-- version the message shows, so an older notice never overwrites a newer card.
CREATE TABLE teams_message (
    approval_id      uuid NOT NULL REFERENCES wf_instance (id),
    target           text NOT NULL,
    service_url      text NOT NULL,
    conversation_id  text NOT NULL,
    activity_id      text NOT NULL,
    version          int NOT NULL,
    posted_at        timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (approval_id, target)
);

-- Clicks refused before they reached the approval: people outside the approver groups, the agent's own owner,
-- users without a resolvable email. approval_id has no foreign key: a click may name an approval that does not exist.
CREATE TABLE teams_refusal (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    approval_id     uuid,
    user_id         text NOT NULL,
    aad_object_id   text,
    email           text,
    action          text NOT NULL,
    reason          text NOT NULL
);
CREATE INDEX teams_refusal_approval ON teams_refusal (approval_id, at);
