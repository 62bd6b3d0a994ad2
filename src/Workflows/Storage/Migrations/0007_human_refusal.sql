-- Every request a person's endpoint refused (HTTP API, web console, CLI): who, what, why. Never the token.
CREATE TABLE human_refusal (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    -- no_token | invalid_token | agent_key | missing_role | not_permitted
    reason          text NOT NULL,
    status          int NOT NULL,
    method          text NOT NULL,
    path            text NOT NULL,
    remote_address  text,
    email           text,
    required_roles  text[] NOT NULL DEFAULT '{}',
    -- For not_permitted: what was refused and why, e.g. "not an approver of approval <id>".
    detail          text
);
CREATE INDEX human_refusal_at ON human_refusal (at, id);
CREATE INDEX human_refusal_email ON human_refusal (email, at) WHERE email IS NOT NULL;
