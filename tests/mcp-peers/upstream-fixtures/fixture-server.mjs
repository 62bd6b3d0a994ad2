// An MCP server for the gateway's upstream tests, with the behaviours the reference servers lack: a tool that
// adds a tool (list_changed), one that exits the process mid-call, one that blocks until it is cancelled, and
// tools that report what the server received (environment, HTTP headers, logging level).
//
// "slow-write" (no annotations: at most once) appends a line to a file and then waits, for crash tests.
//
// "sleep" answers after ms milliseconds unless it is cancelled first (cancellations are counted like those of
// "block"), for timeout tests.
//
//   node fixture-server.mjs stdio
//   node fixture-server.mjs http     listens on 127.0.0.1 (FIXTURE_PORT, default any free port) and prints
//                                    "LISTENING <port>" on stdout. With FIXTURE_INTROSPECT_URL set, every request
//                                    needs a bearer token that URL accepts (POST, token as the body), else 401.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync } from "node:fs";
import http from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  ElicitResultSchema,
  ListToolsRequestSchema,
  McpError,
  SetLevelRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const text = (value) => ({ content: [{ type: "text", text: typeof value === "string" ? value : JSON.stringify(value) }] });
const stringArg = (name) => ({ type: "object", properties: { [name]: { type: "string" } } });

// Process-wide, so every session (the base connection and per-agent ones) sees the same tools and counters.
const servers = new Set();
const addedTools = [];
const cancelledRequests = [];
let loggingLevel = null;
const listing = { running: 0, maxConcurrent: 0, total: 0 };
const listDelay = Number(process.env.FIXTURE_LIST_DELAY_MS ?? 0);

const tools = {
  echo: { description: "Returns its text.", inputSchema: stringArg("text"), annotations: readOnly, run: (a) => text(a.text ?? "") },
  "add-tool": {
    description: "Adds a tool named by the argument and announces it with notifications/tools/list_changed.",
    inputSchema: stringArg("name"),
    run: async (a) => {
      addedTools.push(a.name);
      await Promise.all([...servers].map((s) => s.sendToolListChanged().catch(() => undefined)));
      return text(`added ${a.name}`);
    },
  },
  crash: {
    description: "Exits the process without answering.",
    inputSchema: { type: "object", properties: { code: { type: "number" } } },
    run: (a) => process.exit(a.code ?? 3),
  },
  block: {
    description: "Sends an optional log message, then waits until the call is cancelled and records the cancellation.",
    inputSchema: stringArg("log"),
    run: async (a, extra) => {
      if (a.log) {
        await extra.sendNotification({ method: "notifications/message", params: { level: "info", logger: "fixture", data: a.log } });
      }
      await new Promise((resolve) => extra.signal.addEventListener("abort", resolve, { once: true }));
      cancelledRequests.push(String(extra.requestId));
      return text("cancelled");
    },
  },
  // Deliberately without annotations: neither read-only nor idempotent, so an approved call runs at most once.
  // The effect comes first, then the wait: a node killed during the wait leaves a call that did run.
  "slow-write": {
    description: "Appends the line to the file at path, then waits ms milliseconds (or until the call is cancelled).",
    inputSchema: { type: "object", properties: { path: { type: "string" }, line: { type: "string" }, ms: { type: "number" } }, required: ["path"] },
    run: async (a, extra) => {
      appendFileSync(a.path, `${a.line ?? "ran"}\n`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, a.ms ?? 0);
        extra.signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
      });
      return text(`wrote ${a.path}`);
    },
  },
  sleep: {
    description: "Answers after ms milliseconds, or records the cancellation if the call is cancelled first.",
    inputSchema: { type: "object", properties: { ms: { type: "number" } } },
    annotations: readOnly,
    run: async (a, extra) => {
      const cancelled = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), a.ms ?? 60_000);
        extra.signal.addEventListener("abort", () => { clearTimeout(timer); resolve(true); }, { once: true });
      });
      if (cancelled) {
        cancelledRequests.push(String(extra.requestId));
      }
      return text(cancelled ? "cancelled" : `slept ${a.ms ?? 60_000} ms`);
    },
  },
  cancellations: { description: "How many block calls were cancelled.", inputSchema: { type: "object" }, annotations: readOnly, run: () => text(String(cancelledRequests.length)) },
  env: { description: "Returns one environment variable.", inputSchema: stringArg("name"), annotations: readOnly, run: (a) => text(process.env[a.name] ?? "(unset)") },
  headers: { description: "Returns the HTTP headers of the request.", inputSchema: { type: "object" }, annotations: readOnly, run: (_a, extra) => text(extra.requestInfo?.headers ?? {}) },
  pid: { description: "Returns this process's id and its parent's.", inputSchema: { type: "object" }, annotations: readOnly, run: () => text({ pid: process.pid, ppid: process.ppid }) },
  "spawn-child": {
    description: "Starts a long-lived child process and returns its pid.",
    inputSchema: { type: "object" },
    run: () => {
      const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
      return text(String(child.pid));
    },
  },
  fail: {
    description: "Answers with the JSON-RPC error given.",
    inputSchema: { type: "object", properties: { code: { type: "number" }, message: { type: "string" } } },
    run: (a) => {
      throw new McpError(a.code ?? -32000, a.message ?? "failed as asked");
    },
  },
  "list-stats": {
    description: "How many tools/list requests arrived, and how many ran at once at most.",
    inputSchema: { type: "object" },
    annotations: readOnly,
    run: () => text({ total: listing.total, running: listing.running, maxConcurrent: listing.maxConcurrent }),
  },
  "logging-level": { description: "The last level set with logging/setLevel.", inputSchema: { type: "object" }, annotations: readOnly, run: () => text(loggingLevel ?? "(none)") },
  elicit: {
    description: "Asks the client for a name through elicitation/create and returns the answer.",
    inputSchema: { type: "object" },
    run: async (_a, extra) => {
      const answer = await extra.sendRequest(
        { method: "elicitation/create", params: { message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } } },
        ElicitResultSchema,
      );
      return text(answer);
    },
  },
};

function createServer() {
  const server = new Server({ name: "upstream-fixture", version: "1.0.0" }, { capabilities: { tools: { listChanged: true }, logging: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    listing.total++;
    listing.maxConcurrent = Math.max(listing.maxConcurrent, ++listing.running);
    try {
      // FIXTURE_LIST_DELAY_MS makes listing slow, so notifications pile up while one runs.
      await new Promise((resolve) => setTimeout(resolve, listDelay));
      return {
        tools: [
          ...Object.entries(tools).map(([name, t]) => ({ name, description: t.description, inputSchema: t.inputSchema, annotations: t.annotations })),
          ...addedTools.map((name) => ({ name, description: "Added at run time.", inputSchema: { type: "object" }, annotations: readOnly })),
        ],
      };
    } finally {
      listing.running--;
    }
  });
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const name = request.params.name;
    if (addedTools.includes(name)) {
      return text(`${name} ran`);
    }

    const tool = tools[name];
    if (!tool) {
      throw new McpError(-32602, `unknown tool ${name}`);
    }

    return await tool.run(request.params.arguments ?? {}, extra);
  });
  server.setRequestHandler(SetLevelRequestSchema, (request) => {
    loggingLevel = request.params.level;
    return {};
  });
  servers.add(server);
  server.onclose = () => servers.delete(server);
  return server;
}

async function authorized(req) {
  const introspect = process.env.FIXTURE_INTROSPECT_URL;
  if (!introspect) {
    return true;
  }

  const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  if (!match) {
    return false;
  }

  const answer = await fetch(introspect, { method: "POST", body: match[1] });
  return answer.status === 200;
}

async function runHttp() {
  const sessions = new Map();
  const listener = http.createServer(async (req, res) => {
    try {
      if (!(await authorized(req))) {
        res.writeHead(401, { "WWW-Authenticate": 'Bearer error="invalid_token"' }).end();
        return;
      }

      const id = req.headers["mcp-session-id"];
      let transport = id ? sessions.get(id) : undefined;
      if (!transport) {
        if (id || req.method !== "POST") {
          res.writeHead(404).end();
          return;
        }

        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (sessionId) => sessions.set(sessionId, transport),
        });
        transport.onclose = () => sessions.delete(transport.sessionId);
        await createServer().connect(transport);
      }

      await transport.handleRequest(req, res);
    } catch (error) {
      console.error("request failed:", error);
      if (!res.headersSent) {
        res.writeHead(500).end();
      }
    }
  });
  listener.listen({ host: "127.0.0.1", port: Number(process.env.FIXTURE_PORT ?? 0) }, () => {
    console.log(`LISTENING ${listener.address().port}`);
  });
}

// FIXTURE_TRACE: append every message this process receives on stdin to that file (debugging aid).
if (process.env.FIXTURE_TRACE) {
  process.stdin.on("data", (chunk) => appendFileSync(process.env.FIXTURE_TRACE, chunk));
}

// FIXTURE_STARTS: append this process's pid to that file as it starts, so a test can count (re)starts.
// FIXTURE_EXIT_IF_EXISTS: while that file exists, exit at start with FIXTURE_EXIT_CODE (default 3), before speaking
// MCP: an upstream in a crash loop, which a test starts (creates the file) and ends (deletes it) at will.
if (process.env.FIXTURE_STARTS) {
  appendFileSync(process.env.FIXTURE_STARTS, `${process.pid}\n`);
}

if (process.env.FIXTURE_EXIT_IF_EXISTS && existsSync(process.env.FIXTURE_EXIT_IF_EXISTS)) {
  process.exit(Number(process.env.FIXTURE_EXIT_CODE ?? 3));
}

const mode = process.argv[2] ?? "stdio";
if (mode === "http") {
  await runHttp();
} else {
  await createServer().connect(new StdioServerTransport());
}
