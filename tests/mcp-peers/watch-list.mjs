#!/usr/bin/env node
// An MCP client (the TypeScript SDK's Client) that watches one list for a change: it lists tools, resources
// or prompts, calls a tool, waits (bounded) for the matching notifications/<list>/list_changed, and lists
// again. Prints ONE JSON object on stdout, like client.mjs: {"ok": true, "list", "notified", "notifications",
// "result", "before", "after", "added", "removed"} (names; URIs for resources) and exit code 0, or
// {"ok": false, ..., "error": {...}} and exit code 1 (2 for a usage error).
//
//   node watch-list.mjs --list tools|resources|prompts --tool T [--args JSON-object] [--timeout-ms 30000]
//                       (--url URL [--key KEY] | --stdio-command CMD [--stdio-args JSON-array] [--stdio-env JSON-object])
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
    CallToolResultSchema,
    PromptListChangedNotificationSchema,
    ResourceListChangedNotificationSchema,
    ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const MAX_PAGES = 100;

const LISTS = {
    tools: { notification: ToolListChangedNotificationSchema, list: (client, params, options) => client.listTools(params, options), key: 'tools', id: item => item.name },
    resources: { notification: ResourceListChangedNotificationSchema, list: (client, params, options) => client.listResources(params, options), key: 'resources', id: item => item.uri },
    prompts: { notification: PromptListChangedNotificationSchema, list: (client, params, options) => client.listPrompts(params, options), key: 'prompts', id: item => item.name },
};

class UsageError extends Error {
    name = 'UsageError';
}

function parseCommandLine() {
    const { values } = parseArgs({
        options: {
            list: { type: 'string' },
            url: { type: 'string' },
            key: { type: 'string' },
            'stdio-command': { type: 'string' },
            'stdio-args': { type: 'string', default: '[]' },
            'stdio-env': { type: 'string', default: '{}' },
            tool: { type: 'string' },
            args: { type: 'string', default: '{}' },
            'timeout-ms': { type: 'string', default: '30000' },
        },
        strict: true,
    });
    const json = flag => {
        try {
            return JSON.parse(values[flag]);
        } catch (error) {
            throw new UsageError(`--${flag} is not valid JSON: ${error.message}`);
        }
    };
    if (!LISTS[values.list]) {
        throw new UsageError(`--list must be one of ${Object.keys(LISTS).join(', ')}`);
    }
    if (Boolean(values.url) === Boolean(values['stdio-command'])) {
        throw new UsageError('give exactly one of --url and --stdio-command');
    }
    if (!values.tool) {
        throw new UsageError('--tool is required');
    }
    const timeoutMs = Number(values['timeout-ms']);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
        throw new UsageError(`--timeout-ms must be a positive integer, got ${values['timeout-ms']}`);
    }
    return {
        list: values.list,
        url: values.url,
        headers: values.key === undefined ? {} : { Authorization: `Bearer ${values.key}` },
        stdio: values['stdio-command'] && { command: values['stdio-command'], args: json('stdio-args').map(String), env: json('stdio-env') },
        call: { name: values.tool, arguments: json('args') },
        timeoutMs,
    };
}

async function listAll(client, watched, options) {
    const ids = [];
    let cursor;
    for (let page = 0; page < MAX_PAGES; page++) {
        const result = await watched.list(client, cursor === undefined ? {} : { cursor }, options());
        ids.push(...result[watched.key].map(watched.id));
        cursor = result.nextCursor;
        if (cursor === undefined) {
            return ids.sort();
        }
    }
    throw new Error(`${watched.key}: more than ${MAX_PAGES} pages`);
}

function describeError(error) {
    return error instanceof Error
        ? { name: error.name, message: error.message, ...(error.code !== undefined && { code: error.code }) }
        : { message: String(error) };
}

function emit(code, payload) {
    process.stdout.write(`${JSON.stringify(payload)}\n`, () => process.exit(code));
}

async function main() {
    let args;
    try {
        args = parseCommandLine();
    } catch (error) {
        emit(2, { ok: false, error: describeError(error) });
        return;
    }
    const deadline = Date.now() + args.timeoutMs;
    const options = () => ({ timeout: Math.max(1, deadline - Date.now()) });
    const base = { list: args.list, transport: args.stdio ? 'stdio' : 'http' };
    setTimeout(() => emit(1, { ok: false, ...base, error: { message: `did not finish within ${args.timeoutMs} ms` } }), args.timeoutMs + 2000).unref();

    const transport = args.stdio
        ? new StdioClientTransport({ command: args.stdio.command, args: args.stdio.args, env: { ...process.env, ...args.stdio.env }, stderr: 'inherit' })
        : new StreamableHTTPClientTransport(new URL(args.url), { requestInit: { headers: args.headers } });
    const client = new Client({ name: 'approval-engine-watch-list', version: '1.0.0' }, { capabilities: {} });
    const watched = LISTS[args.list];
    const report = { ...base, notified: false, notifications: 0 };
    let wake = () => {};
    client.setNotificationHandler(watched.notification, () => {
        report.notifications++;
        wake();
    });
    try {
        await client.connect(transport, options());
        report.before = await listAll(client, watched, options);
        // Some servers announce a change right after start: count only what follows the first listing.
        report.notifications = 0;
        report.result = await client.callTool(args.call, CallToolResultSchema, options());
        if (report.notifications === 0) {
            await new Promise(resolve => {
                wake = resolve;
                setTimeout(resolve, options().timeout);
            });
        }
        report.notified = report.notifications > 0;
        report.after = await listAll(client, watched, options);
        report.added = report.after.filter(id => !report.before.includes(id));
        report.removed = report.before.filter(id => !report.after.includes(id));
        if (!report.notified) {
            throw new Error(`no notifications/${args.list}/list_changed arrived in time`);
        }
        await client.close().catch(() => {});
        emit(0, { ok: true, ...report });
    } catch (error) {
        await client.close().catch(() => {});
        emit(1, { ok: false, ...report, error: describeError(error) });
    }
}

await main();
