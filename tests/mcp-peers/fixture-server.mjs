#!/usr/bin/env node
// The fixture MCP server the gateway's integration tests proxy to: Streamable HTTP on loopback,
// stateful sessions at /mcp (resumable SSE streams), stateless at /stateless/mcp.
//
//   node fixture-server.mjs [--port 0] [--bearer TOKEN]
//
// Prints exactly one line, `LISTENING http://127.0.0.1:PORT/mcp`, on stdout once it accepts
// connections; diagnostics go to stderr. Exits on SIGTERM or SIGINT, and when its standard input
// is a pipe that closes (so it never outlives the test process that started it).
import { randomUUID } from 'node:crypto';
import { fstatSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { InMemoryEventStore } from './lib/event-store.mjs';
import { createFixtureServer, createFixtureState } from './lib/fixture-catalog.mjs';

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const RETRY_INTERVAL_MS = 250;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const { values: options } = parseArgs({
    options: {
        port: { type: 'string', default: '0' },
        bearer: { type: 'string' },
    },
    strict: true,
});
const port = Number.parseInt(options.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`fixture: --port must be 0..65535, got ${options.port}`);
    process.exit(2);
}

const state = createFixtureState();
const sessions = new Map(); // Mcp-Session-Id -> { transport, server, protocolVersion }

function jsonRpcError(res, status, code, message, headers = {}) {
    if (res.headersSent) {
        res.end();
        return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function hostnameOf(value) {
    try {
        return new URL(value).hostname.toLowerCase();
    } catch {
        return null;
    }
}

/** DNS-rebinding protection: only loopback names in Host, and in Origin when there is one. */
function isLoopbackRequest(req) {
    const host = req.headers.host ? hostnameOf(`http://${req.headers.host}`) : null;
    if (!LOOPBACK_HOSTS.has(host)) {
        return false;
    }
    return req.headers.origin === undefined || LOOPBACK_HOSTS.has(hostnameOf(req.headers.origin));
}

function readJsonBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        req.on('data', chunk => {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) {
                reject(Object.assign(new Error('Request body too large'), { status: 413 }));
                req.destroy();
                return;
            }
            chunks.push(chunk);
        });
        req.on('end', () => {
            try {
                resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            } catch {
                reject(Object.assign(new Error('Parse error: invalid JSON'), { status: 400, code: -32700 }));
            }
        });
        req.on('error', reject);
    });
}

/**
 * The protocol version negotiated at initialize governs the session. The SDK decides per request,
 * from the MCP-Protocol-Version header, whether an SSE stream gets a priming event (and so can be
 * resumed). A client that negotiated 2025-11-25 but labels a later request with an older supported
 * version (the conformance suite's server-sse-polling scenario does) still gets resumable streams.
 * An unsupported version is left alone, so the SDK rejects it with 400.
 */
function alignProtocolVersionHeader(req, session) {
    const sent = req.headers['mcp-protocol-version'];
    if (sent === undefined || sent === session.protocolVersion || !SUPPORTED_PROTOCOL_VERSIONS.includes(sent) || sent > session.protocolVersion) {
        return;
    }
    console.error(`fixture: session negotiated ${session.protocolVersion}; request said ${sent}; using ${session.protocolVersion}`);
    req.headers['mcp-protocol-version'] = session.protocolVersion;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i].toLowerCase() === 'mcp-protocol-version') {
            req.rawHeaders[i + 1] = session.protocolVersion;
        }
    }
}

async function startSession(req, res, body) {
    const initialize = (Array.isArray(body) ? body : [body]).find(isInitializeRequest);
    const requested = initialize.params.protocolVersion;
    const session = {
        protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION,
        server: createFixtureServer(state),
        transport: null,
    };
    session.transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new InMemoryEventStore(),
        retryInterval: RETRY_INTERVAL_MS,
        onsessioninitialized: id => sessions.set(id, session),
    });
    session.transport.onclose = () => {
        if (session.transport.sessionId) {
            sessions.delete(session.transport.sessionId);
        }
    };
    await session.server.connect(session.transport);
    await session.transport.handleRequest(req, res, body);
}

async function handleStateful(req, res) {
    const sessionId = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readJsonBody(req) : undefined;
    if (sessionId === undefined) {
        const initializing = req.method === 'POST' && (Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body));
        if (!initializing) {
            jsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
            return;
        }
        await startSession(req, res, body);
        return;
    }
    const session = sessions.get(sessionId);
    if (!session) {
        jsonRpcError(res, 404, -32001, 'Session not found');
        return;
    }
    alignProtocolVersionHeader(req, session);
    await session.transport.handleRequest(req, res, body);
}

async function handleStateless(req, res) {
    if (req.method !== 'POST') {
        jsonRpcError(res, 405, -32000, 'Method not allowed: the stateless endpoint takes POST only', { Allow: 'POST' });
        return;
    }
    const body = await readJsonBody(req);
    const server = createFixtureServer(state);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
        void transport.close();
        void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
}

const httpServer = http.createServer(async (req, res) => {
    try {
        if (!isLoopbackRequest(req)) {
            jsonRpcError(res, 403, -32000, 'Forbidden: Host and Origin must name a loopback address');
            return;
        }
        const path = new URL(req.url, 'http://localhost').pathname;
        if (path !== '/mcp' && path !== '/stateless/mcp') {
            res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found');
            return;
        }
        if (options.bearer !== undefined && req.headers.authorization !== `Bearer ${options.bearer}`) {
            jsonRpcError(res, 401, -32000, 'Unauthorized: this fixture was started with --bearer', { 'WWW-Authenticate': 'Bearer' });
            return;
        }
        await (path === '/mcp' ? handleStateful(req, res) : handleStateless(req, res));
    } catch (error) {
        if (error.status) {
            jsonRpcError(res, error.status, error.code ?? -32000, error.message);
            return;
        }
        console.error('fixture: request failed:', error);
        jsonRpcError(res, 500, -32603, 'Internal server error');
    }
});

let stopping = false;
async function shutdown(why) {
    if (stopping) {
        return;
    }
    stopping = true;
    console.error(`fixture: stopping (${why})`);
    // Hard deadline: a stuck stream must not keep the process alive.
    setTimeout(() => process.exit(0), 2000).unref();
    for (const { transport } of sessions.values()) {
        await transport.close().catch(() => {});
    }
    httpServer.closeAllConnections();
    httpServer.close(() => process.exit(0));
}

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// Only a pipe or socket: /dev/null would end at once, and a terminal has Ctrl-C.
const stdin = fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) {
    process.stdin.on('end', () => void shutdown('stdin closed'));
    process.stdin.on('error', () => void shutdown('stdin error'));
    process.stdin.resume();
}

httpServer.listen(port, '127.0.0.1', () => {
    process.stdout.write(`LISTENING http://127.0.0.1:${httpServer.address().port}/mcp\n`);
});
