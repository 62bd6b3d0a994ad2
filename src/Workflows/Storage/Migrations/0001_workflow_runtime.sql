-- The durable runtime: workflow instances, their hash-chained history, idempotent signals, and tasks.

CREATE TABLE wf_instance (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL,
    business_key  text NOT NULL,
    -- false once the workflow is final and its key may start a new workflow.
    key_active    boolean NOT NULL DEFAULT true,
    state         text NOT NULL CHECK (state IN ('pending', 'escalated', 'approved', 'denied', 'expired',
                                                 'cancelled', 'executing', 'completed', 'failed', 'in_doubt')),
    -- Number of history events; the next event's seq is version + 1.
    version       int NOT NULL CHECK (version >= 1),
    data          jsonb NOT NULL,
    agent_id      text NOT NULL,
    bundle        text NOT NULL,
    upstream      text NOT NULL,
    tool          text NOT NULL,
    rule          text,
    -- Everyone who voted or decided, for "approvals decided by X" queries.
    deciders      text[] NOT NULL DEFAULT '{}',
    deadline_at   timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX wf_instance_business_key ON wf_instance (kind, business_key) WHERE key_active;
CREATE INDEX wf_instance_state_created ON wf_instance (state, created_at, id);
CREATE INDEX wf_instance_agent_created ON wf_instance (agent_id, created_at, id);
CREATE INDEX wf_instance_tool_created ON wf_instance (tool, created_at, id);
CREATE INDEX wf_instance_created ON wf_instance (created_at, id);
CREATE INDEX wf_instance_deciders ON wf_instance USING gin (deciders);

-- History: append-only, one hash chain per workflow (no global lock).
-- hash = sha256(prev_hash || wf_id || seq || sha256(type) || sha256(body) || sha256(actor) || recorded_at in µs)
-- genesis prev_hash = sha256(wf_id). The trigger below fills prev_hash, hash and recorded_at.
CREATE TABLE wf_event (
    wf_id        uuid NOT NULL REFERENCES wf_instance (id),
    seq          int NOT NULL CHECK (seq >= 1),
    type         text NOT NULL,
    body         text NOT NULL,
    actor        text NOT NULL,
    recorded_at  timestamptz NOT NULL,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL,
    PRIMARY KEY (wf_id, seq)
);
CREATE INDEX wf_event_recorded ON wf_event (recorded_at);

CREATE FUNCTION wf_event_hash(prev bytea, wf uuid, seq int, type text, body text, actor text, at timestamptz)
RETURNS bytea LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT sha256(prev || uuid_send(wf) || int4send(seq)
        || sha256(convert_to(type, 'UTF8')) || sha256(convert_to(body, 'UTF8')) || sha256(convert_to(actor, 'UTF8'))
        || int8send((extract(epoch FROM at) * 1000000)::bigint))
$$;

CREATE FUNCTION wf_event_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev bytea;
BEGIN
    IF NEW.seq = 1 THEN
        prev := sha256(uuid_send(NEW.wf_id));
    ELSE
        SELECT e.hash INTO prev FROM wf_event e WHERE e.wf_id = NEW.wf_id AND e.seq = NEW.seq - 1;
        IF prev IS NULL THEN
            RAISE EXCEPTION 'history of workflow % has no event %', NEW.wf_id, NEW.seq - 1 USING ERRCODE = 'AE002';
        END IF;
    END IF;
    -- Microsecond precision is what timestamptz stores, so the hash input round-trips exactly.
    NEW.recorded_at := now();
    NEW.prev_hash := prev;
    NEW.hash := wf_event_hash(prev, NEW.wf_id, NEW.seq, NEW.type, NEW.body, NEW.actor, NEW.recorded_at);
    RETURN NEW;
END
$$;

CREATE TRIGGER wf_event_chain BEFORE INSERT ON wf_event FOR EACH ROW EXECUTE FUNCTION wf_event_chain();

CREATE FUNCTION wf_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'wf_event is append-only (% rejected)', TG_OP USING ERRCODE = 'AE001';
END
$$;

CREATE TRIGGER wf_event_no_update BEFORE UPDATE OR DELETE ON wf_event FOR EACH ROW EXECUTE FUNCTION wf_event_append_only();
CREATE TRIGGER wf_event_no_truncate BEFORE TRUNCATE ON wf_event FOR EACH STATEMENT EXECUTE FUNCTION wf_event_append_only();

-- Signals: one row per (workflow, idempotency key) holding the stored outcome.
CREATE TABLE wf_signal (
    wf_id            uuid NOT NULL REFERENCES wf_instance (id),
    idempotency_key  text NOT NULL,
    name             text NOT NULL,
    actor            text NOT NULL,
    payload          jsonb,
    outcome          jsonb NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (wf_id, idempotency_key)
);

-- Tasks: timers and activities (outbox). Claimed with SKIP LOCKED under a lease fenced by lease_token.
CREATE TABLE wf_task (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wf_id         uuid NOT NULL REFERENCES wf_instance (id),
    kind          text NOT NULL,
    dedup_key     text NOT NULL UNIQUE,
    state         text NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'running', 'done', 'dead', 'cancelled')),
    at_most_once  boolean NOT NULL,
    run_at        timestamptz NOT NULL DEFAULT now(),
    attempt       int NOT NULL DEFAULT 0,
    max_attempts  int NOT NULL CHECK (max_attempts >= 1),
    lease_token   uuid,
    lease_owner   text,
    lease_until   timestamptz,
    args          jsonb NOT NULL DEFAULT '{}',
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX wf_task_due ON wf_task (run_at, id) WHERE state = 'ready';
CREATE INDEX wf_task_lease ON wf_task (lease_until) WHERE state = 'running';
CREATE INDEX wf_task_wf ON wf_task (wf_id);
-- Cancelling a workflow's pending timers must not depend on statistics being fresh.
CREATE INDEX wf_task_ready_by_wf ON wf_task (wf_id, kind) WHERE state = 'ready';

-- The first statement of every transition batch: lock the instance, compare-and-set on version,
-- check the deadline on the database clock, and fence on the task lease. Any failure aborts the
-- whole batch, so a transition is all-or-nothing.
CREATE FUNCTION wf_guard(p_id uuid, p_version int, p_before_deadline boolean, p_task_id bigint, p_lease uuid)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v int;
    d timestamptz;
BEGIN
    SELECT version, deadline_at INTO v, d FROM wf_instance WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow % not found', p_id USING ERRCODE = 'AE010';
    END IF;
    IF v <> p_version THEN
        RAISE EXCEPTION 'workflow % is at version %, expected %', p_id, v, p_version USING ERRCODE = 'AE011';
    END IF;
    IF p_before_deadline AND clock_timestamp() >= d THEN
        RAISE EXCEPTION 'workflow % passed its deadline %', p_id, d USING ERRCODE = 'AE012';
    END IF;
    IF p_task_id IS NOT NULL THEN
        PERFORM 1 FROM wf_task WHERE id = p_task_id AND lease_token = p_lease AND state = 'running' FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'lease on task % is lost', p_task_id USING ERRCODE = 'AE013';
        END IF;
    END IF;
END
$$;
