-- The audit of every tool call the gateway handles, written by the gateway's ToolCallAuditWriter.
--
-- Tamper evidence without a global lock: each writer (one per gateway process start) owns a chain stream with a random
-- stream_id and numbers its records 1..n. Only that writer appends to its stream, so no row lock or advisory lock is
-- needed, and writers on other nodes never wait for each other. The writer computes the hashes (see
-- src/Gateway/Audit/ToolCallAuditChain.cs for the exact byte layout):
--   hash = sha256(prev_hash || stream_id || seq || id || at in µs || duration in µs || each text field length-prefixed)
--   genesis prev_hash = sha256(stream_id)
-- tool_call_audit_stream holds each stream's head (last seq and hash), advanced in the same transaction as the rows,
-- so deleting the newest rows of a stream, or all of them, is detected too.

CREATE TABLE tool_call_audit (
    id                uuid PRIMARY KEY,
    stream_id         uuid NOT NULL,
    seq               bigint NOT NULL CHECK (seq >= 1),
    -- When the call started (the writer's clock).
    at                timestamptz NOT NULL,
    duration_us       bigint NOT NULL CHECK (duration_us >= 0),
    agent_id          text NOT NULL,
    bundle            text NOT NULL,
    upstream          text NOT NULL,
    -- The upstream-local tool name, and the name the agent called (namespaced, e.g. upstream__tool).
    tool              text NOT NULL,
    tool_name         text NOT NULL,
    arguments_digest  text NOT NULL,
    -- json, not jsonb: the text is kept byte for byte, which the hash needs; ->> still works for ad-hoc queries.
    arguments         json NOT NULL,
    decision          text NOT NULL,
    rule              text,
    outcome           text NOT NULL,
    error             text,
    session_id        text,
    request_id        text,
    prev_hash         bytea NOT NULL,
    hash              bytea NOT NULL,
    UNIQUE (stream_id, seq)
);

-- "An audit trail that can be filtered by bundle", by agent, or not at all; newest first, cursor (at, id).
CREATE INDEX tool_call_audit_bundle_at ON tool_call_audit (bundle, at, id);
CREATE INDEX tool_call_audit_agent_at ON tool_call_audit (agent_id, at, id);
CREATE INDEX tool_call_audit_at ON tool_call_audit (at, id);

CREATE TABLE tool_call_audit_stream (
    stream_id   uuid PRIMARY KEY,
    -- Which process wrote the stream (host name and pid), for operators reading a verification report.
    node        text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seq    bigint NOT NULL CHECK (last_seq >= 1),
    head_hash   bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Append-only: records are never changed or removed (AE020). AE001/AE002 belong to wf_event.
CREATE FUNCTION tool_call_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% rejected)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'AE020';
END
$$;

CREATE TRIGGER tool_call_audit_no_update BEFORE UPDATE OR DELETE ON tool_call_audit
    FOR EACH ROW EXECUTE FUNCTION tool_call_audit_append_only();
CREATE TRIGGER tool_call_audit_no_truncate BEFORE TRUNCATE ON tool_call_audit
    FOR EACH STATEMENT EXECUTE FUNCTION tool_call_audit_append_only();

-- A stream head only moves forward, through tool_call_audit_advance; it is never removed.
CREATE FUNCTION tool_call_audit_stream_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.stream_id = OLD.stream_id AND NEW.node = OLD.node
       AND NEW.started_at = OLD.started_at AND NEW.last_seq > OLD.last_seq THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'tool_call_audit_stream only moves forward (% rejected)', TG_OP USING ERRCODE = 'AE020';
END
$$;

CREATE TRIGGER tool_call_audit_stream_no_rewrite BEFORE UPDATE OR DELETE ON tool_call_audit_stream
    FOR EACH ROW EXECUTE FUNCTION tool_call_audit_stream_forward_only();
CREATE TRIGGER tool_call_audit_stream_no_truncate BEFORE TRUNCATE ON tool_call_audit_stream
    FOR EACH STATEMENT EXECUTE FUNCTION tool_call_audit_append_only();

-- Moves a stream's head from p_expected (0: the stream is new) to p_last, in the batch that inserts the records, so
-- the rows and the head commit together. A head elsewhere means the writer's view of its own stream is wrong (AE021):
-- the whole batch fails rather than fork the chain.
CREATE FUNCTION tool_call_audit_advance(p_stream uuid, p_node text, p_expected bigint, p_last bigint, p_hash bytea)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_expected = 0 THEN
        INSERT INTO tool_call_audit_stream (stream_id, node, last_seq, head_hash) VALUES (p_stream, p_node, p_last, p_hash)
        ON CONFLICT (stream_id) DO NOTHING;
        IF FOUND THEN
            RETURN;
        END IF;
    ELSE
        UPDATE tool_call_audit_stream SET last_seq = p_last, head_hash = p_hash, updated_at = now()
        WHERE stream_id = p_stream AND last_seq = p_expected;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit stream % is not at seq %', p_stream, p_expected USING ERRCODE = 'AE021';
END
$$;
