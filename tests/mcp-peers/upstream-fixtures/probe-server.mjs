// A stdio MCP server that tells a test what reached it and who answered: it counts every request and notification
// it receives (before the SDK decides whether it supports the method), and its resources and prompts name it.
//
//   node probe-server.mjs NAME [--logging] [--refuse-level | --ignore-level]
//
//   NAME             names the server in every answer and is the scheme of its own resources (NAME://only,
//                    template NAME://items/{id}); every instance also lists shared://doc, to collide on purpose
//   --logging        advertise the logging capability and honour logging/setLevel (without it, setLevel is
//                    still counted, and the SDK answers "method not found")
//   --refuse-level   with --logging: answer logging/setLevel with a JSON-RPC error (-32602)
//   --ignore-level   with --logging: never answer logging/setLevel (the request is still counted)
//
// Tool "received" returns {"name", "methods": {method: count}, "levels": [levels set]}.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import {
  CallToolRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

const [name, ...flags] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9]*$/.test(name)) {
  console.error("usage: node probe-server.mjs NAME [--logging] [--refuse-level | --ignore-level]  (NAME: lower-case letters and digits)");
  process.exit(2);
}

const logging = flags.includes("--logging");
const refuseLevel = flags.includes("--refuse-level");
const ignoreLevel = flags.includes("--ignore-level");
const methods = {};
const levels = [];
const text = (value) => ({ content: [{ type: "text", text: typeof value === "string" ? value : JSON.stringify(value) }] });
const itemPattern = new RegExp(`^${name}://items/([^/]+)$`);

const capabilities = { tools: {}, resources: {}, prompts: {} };
if (logging) {
  capabilities.logging = {};
}

const server = new Server({ name: `probe-${name}`, version: "1.0.0" }, { capabilities });

server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: [{ name: "received", description: "What this server received so far.", inputSchema: { type: "object" }, annotations: { readOnlyHint: true } }],
}));
server.setRequestHandler(CallToolRequestSchema, (request) => {
  if (request.params.name !== "received") {
    throw new McpError(-32602, `unknown tool ${request.params.name}`);
  }

  return text({ name, methods, levels });
});

server.setRequestHandler(ListResourcesRequestSchema, () => ({
  resources: [
    { uri: "shared://doc", name: "doc", mimeType: "text/plain" },
    { uri: `${name}://only`, name: "only", mimeType: "text/plain" },
  ],
}));
server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
  resourceTemplates: [{ uriTemplate: `${name}://items/{id}`, name: "items", mimeType: "text/plain" }],
}));
server.setRequestHandler(ReadResourceRequestSchema, (request) => {
  const uri = request.params.uri;
  const item = itemPattern.exec(uri);
  const body = uri === "shared://doc" ? `shared document served by ${name}`
    : uri === `${name}://only` ? `only ${name}`
    : item ? `item ${item[1]} from ${name}`
    : null;
  if (body === null) {
    throw new McpError(-32002, `no resource ${uri}`);
  }

  return { contents: [{ uri, mimeType: "text/plain", text: body }] };
});

server.setRequestHandler(ListPromptsRequestSchema, () => ({
  prompts: [{ name: "greet", description: "Greets someone.", arguments: [{ name: "who", required: true }] }],
}));
server.setRequestHandler(GetPromptRequestSchema, (request) => ({
  messages: [{ role: "user", content: { type: "text", text: `Hello ${request.params.arguments?.who ?? "nobody"}, from ${name}` } }],
}));

if (logging) {
  server.setRequestHandler(SetLevelRequestSchema, (request) => {
    if (refuseLevel) {
      throw new McpError(-32602, "this server refuses every logging level");
    }

    if (ignoreLevel) {
      return new Promise(() => {});
    }

    levels.push(request.params.level);
    return {};
  });
}

// Set before connecting: the SDK keeps this handler and calls it first for every incoming message.
const transport = new StdioServerTransport();
transport.onmessage = (message) => {
  if (typeof message.method === "string") {
    methods[message.method] = (methods[message.method] ?? 0) + 1;
  }
};
await server.connect(transport);
