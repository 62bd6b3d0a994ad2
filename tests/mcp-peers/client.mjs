#!/usr/bin/env node
// An MCP client (the TypeScript SDK's Client) that runs one scenario against a server and prints ONE
// JSON object on stdout: {"ok": true, "scenario": ..., ...} and exit code 0, or {"ok": false,
// "error": {...}, ...} and exit code 1 (2 for a usage error). SDK and server diagnostics go to
// stderr. See README.md for every scenario's flags and output.
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
    CallToolResultSchema,
    CreateMessageRequestSchema,
    ElicitRequestSchema,
    LoggingMessageNotificationSchema,
    TaskStatusNotificationSchema,
    ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const CLIENT_INFO = { name: 'approval-engine-test-client', version: '1.0.0' };
const MAX_PAGES = 100;

class UsageError extends Error {
    name = 'UsageError';
}

/** A failed expectation; the partial report goes out with the error. */
class ScenarioFailure extends Error {
    name = 'ScenarioFailure';

    constructor(message, report) {
        super(message);
        this.report = report;
    }
}

function parseCommandLine() {
    const { values } = parseArgs({
        options: {
            scenario: { type: 'string' },
            url: { type: 'string' },
            key: { type: 'string' },
            header: { type: 'string', multiple: true, default: [] },
            'stdio-command': { type: 'string' },
            'stdio-args': { type: 'string', default: '[]' },
            'stdio-env': { type: 'string', default: '{}' },
            'stdio-cwd': { type: 'string' },
            tool: { type: 'string' },
            args: { type: 'string', default: '{}' },
            'timeout-ms': { type: 'string', default: '30000' },
            'after-progress': { type: 'string', default: '1' },
            'then-tool': { type: 'string' },
            'then-args': { type: 'string', default: '{}' },
            answer: { type: 'string' },
            action: { type: 'string', default: 'accept' },
            level: { type: 'string', default: 'debug' },
            'settle-ms': { type: 'string', default: '200' },
            'task-ttl': { type: 'string', default: '60000' },
        },
        strict: true,
    });
    const json = (flag, expected) => {
        let value;
        try {
            value = JSON.parse(values[flag]);
        } catch (error) {
            throw new UsageError(`--${flag} is not valid JSON: ${error.message}`);
        }
        if (expected === 'array' ? !Array.isArray(value) : expected === 'object' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
            throw new UsageError(`--${flag} must be a JSON ${expected}`);
        }
        return value;
    };
    const integer = (flag, min) => {
        const value = Number(values[flag]);
        if (!Number.isInteger(value) || value < min) {
            throw new UsageError(`--${flag} must be an integer >= ${min}, got ${values[flag]}`);
        }
        return value;
    };
    if (!values.scenario || !SCENARIOS[values.scenario]) {
        throw new UsageError(`--scenario must be one of ${Object.keys(SCENARIOS).join(', ')}`);
    }
    if (Boolean(values.url) === Boolean(values['stdio-command'])) {
        throw new UsageError('give exactly one of --url and --stdio-command');
    }
    if (values.scenario !== 'list' && !values.tool) {
        throw new UsageError(`--tool is required for the ${values.scenario} scenario`);
    }
    if (!['accept', 'decline', 'cancel'].includes(values.action)) {
        throw new UsageError('--action must be accept, decline or cancel');
    }
    const headers = {};
    for (const header of values.header) {
        const colon = header.indexOf(':');
        if (colon <= 0) {
            throw new UsageError(`--header must look like "Name: value", got ${header}`);
        }
        headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
    }
    if (values.key !== undefined) {
        headers.Authorization = `Bearer ${values.key}`;
    }
    return {
        scenario: values.scenario,
        url: values.url,
        headers,
        stdio: values['stdio-command'] && {
            command: values['stdio-command'],
            args: json('stdio-args', 'array').map(String),
            env: json('stdio-env', 'object'),
            cwd: values['stdio-cwd'],
        },
        tool: values.tool,
        args: json('args', 'object'),
        timeoutMs: integer('timeout-ms', 1),
        afterProgress: integer('after-progress', 0),
        thenTool: values['then-tool'],
        thenArgs: json('then-args', 'object'),
        answer: values.answer === undefined ? undefined : json('answer'),
        action: values.action,
        level: values.level,
        settleMs: integer('settle-ms', 0),
        taskTtl: integer('task-ttl', 0),
    };
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/** Lets the scenario see every message the server sends (the initialize result, raw progress tokens). */
function observeIncoming(transport, listener) {
    let handler;
    Object.defineProperty(transport, 'onmessage', {
        configurable: true,
        get: () => handler,
        set: next => {
            handler = next && ((message, extra) => {
                listener(message);
                next(message, extra);
            });
        },
    });
}

function describeError(error) {
    if (!(error instanceof Error)) {
        return { message: String(error) };
    }
    return {
        name: error.name,
        message: error.message,
        ...(error.code !== undefined && { code: error.code }),
        ...(error.data !== undefined && { data: error.data }),
    };
}

const toolNames = tools => tools.map(tool => tool.name).sort();

async function listAll(fetchPage, key, options) {
    const items = [];
    let cursor;
    for (let page = 0; page < MAX_PAGES; page++) {
        const result = await fetchPage(cursor === undefined ? {} : { cursor }, options());
        items.push(...result[key]);
        cursor = result.nextCursor;
        if (cursor === undefined) {
            return items;
        }
    }
    throw new Error(`${key}: more than ${MAX_PAGES} pages`);
}

// Each scenario: capabilities the client advertises, and run(session) returning the report fields.
const SCENARIOS = {
    list: {
        run: async ({ client, options }) => {
            const capabilities = client.getServerCapabilities() ?? {};
            const when = (capability, list) => (capabilities[capability] ? list() : null);
            return {
                capabilities,
                instructions: client.getInstructions() ?? null,
                tools: await when('tools', () => listAll(p => client.listTools(p, options()), 'tools', options)),
                resources: await when('resources', () => listAll(p => client.listResources(p, options()), 'resources', options)),
                resourceTemplates: await when('resources', () =>
                    listAll(p => client.listResourceTemplates(p, options()), 'resourceTemplates', options)),
                prompts: await when('prompts', () => listAll(p => client.listPrompts(p, options()), 'prompts', options)),
            };
        },
    },

    call: {
        run: async ({ client, args, options }) => ({ result: await client.callTool(args.call, CallToolResultSchema, options()) }),
    },

    progress: {
        run: async ({ client, args, options, incoming }) => {
            const progress = [];
            const result = await client.callTool(args.call, CallToolResultSchema, { ...options(), onprogress: p => progress.push(p) });
            const report = { result, progress, progressTokens: progressTokens(incoming), wire: progressWire(incoming) };
            if (progress.length === 0) {
                throw new ScenarioFailure('the call completed without any progress notification', report);
            }
            return report;
        },
    },

    cancel: {
        run: async ({ client, args, options, incoming }) => {
            const controller = new AbortController();
            const progress = [];
            const abort = () => controller.abort(new Error(`aborted by the client after ${progress.length} progress notification(s)`));
            const started = Date.now();
            const call = client.callTool(args.call, CallToolResultSchema, {
                ...options(),
                signal: controller.signal,
                onprogress: p => {
                    progress.push(p);
                    if (progress.length >= args.afterProgress && !controller.signal.aborted) {
                        abort();
                    }
                },
            });
            if (args.afterProgress === 0) {
                setImmediate(abort);
            }
            let result;
            try {
                result = await call;
            } catch (error) {
                if (!controller.signal.aborted) {
                    throw error;
                }
                const report = { aborted: true, rejection: describeError(error), progress, progressTokens: progressTokens(incoming), elapsedMs: Date.now() - started };
                if (args.thenTool) {
                    report.then = { tool: args.thenTool, result: await client.callTool({ name: args.thenTool, arguments: args.thenArgs }, CallToolResultSchema, options()) };
                }
                return report;
            }
            throw new ScenarioFailure(`the call completed after ${progress.length} progress notification(s), before the abort`, { aborted: false, result, progress });
        },
    },

    'list-changed': {
        run: async ({ client, args, options }) => {
            let notifications = 0;
            let wake = () => {};
            client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
                notifications++;
                wake();
            });
            const before = toolNames(await listAll(p => client.listTools(p, options()), 'tools', options));
            // Some servers announce a change right after start: count only what follows the first listing.
            notifications = 0;
            const result = await client.callTool(args.call, CallToolResultSchema, options());
            if (notifications === 0) {
                await new Promise(resolve => {
                    wake = resolve;
                    setTimeout(resolve, options().timeout);
                });
            }
            const seen = notifications > 0;
            const after = toolNames(await listAll(p => client.listTools(p, options()), 'tools', options));
            const report = {
                notified: seen,
                notifications,
                result,
                before,
                after,
                added: after.filter(name => !before.includes(name)),
                removed: before.filter(name => !after.includes(name)),
            };
            if (!seen) {
                throw new ScenarioFailure('no notifications/tools/list_changed arrived in time', report);
            }
            return report;
        },
    },

    elicit: {
        capabilities: { elicitation: { form: {} } },
        run: async ({ client, args, options }) => {
            const requests = [];
            client.setRequestHandler(ElicitRequestSchema, request => {
                requests.push(request.params);
                return args.action === 'accept' ? { action: 'accept', content: args.answer ?? {} } : { action: args.action };
            });
            const result = await client.callTool(args.call, CallToolResultSchema, options());
            const report = { requests, answered: args.action, result };
            if (requests.length === 0) {
                throw new ScenarioFailure('the server sent no elicitation/create request', report);
            }
            return report;
        },
    },

    sample: {
        capabilities: { sampling: {} },
        run: async ({ client, args, options }) => {
            const requests = [];
            const reply = args.answer === undefined ? 'Sampled reply from the test client' : typeof args.answer === 'string' ? args.answer : JSON.stringify(args.answer);
            client.setRequestHandler(CreateMessageRequestSchema, request => {
                requests.push(request.params);
                return { role: 'assistant', content: { type: 'text', text: reply }, model: CLIENT_INFO.name, stopReason: 'endTurn' };
            });
            const result = await client.callTool(args.call, CallToolResultSchema, options());
            const report = { requests, result };
            if (requests.length === 0) {
                throw new ScenarioFailure('the server sent no sampling/createMessage request', report);
            }
            return report;
        },
    },

    logging: {
        run: async ({ client, args, options }) => {
            const messages = [];
            client.setNotificationHandler(LoggingMessageNotificationSchema, notification => messages.push(notification.params));
            await client.setLoggingLevel(args.level, options());
            const result = await client.callTool(args.call, CallToolResultSchema, options());
            // Notifications may be processed after the response; give stragglers a moment.
            await sleep(args.settleMs);
            const report = { level: args.level, messages, result };
            if (messages.length === 0) {
                throw new ScenarioFailure('no notifications/message arrived during the call', report);
            }
            return report;
        },
    },

    // A task-augmented call through the SDK's task API: the CreateTaskResult, tasks/get polling, then tasks/result.
    'task-call': {
        run: async ({ client, args, options }) => {
            const terminal = status => ['completed', 'failed', 'cancelled'].includes(status);
            const statusNotifications = [];
            let wake = () => {};
            client.setNotificationHandler(TaskStatusNotificationSchema, notification => {
                statusNotifications.push(notification.params);
                if (terminal(notification.params.status)) {
                    wake();
                }
            });
            // Listing fills the SDK's cache of which tools accept tasks (execution.taskSupport).
            const tools = await listAll(p => client.listTools(p, options()), 'tools', options);
            const report = {
                tasksCapability: client.getServerCapabilities()?.tasks ?? null,
                execution: tools.find(tool => tool.name === args.tool)?.execution ?? null,
                statuses: [],
                statusNotifications,
            };
            if (!report.tasksCapability?.requests?.tools?.call || !['optional', 'required'].includes(report.execution?.taskSupport)) {
                throw new ScenarioFailure(`the server does not offer ${args.tool} as a task`, report);
            }
            const started = Date.now();
            const stream = client.experimental.tasks.callToolStream(args.call, CallToolResultSchema, { ...options(), task: { ttl: args.taskTtl } });
            for await (const message of stream) {
                if (message.type === 'taskCreated') {
                    report.created = message.task;
                    report.createdAfterMs = Date.now() - started;
                } else if (message.type === 'taskStatus') {
                    // Consecutive repeats of a status say nothing new.
                    const last = report.statuses.at(-1);
                    if (last?.status !== message.task.status || last?.statusMessage !== message.task.statusMessage) {
                        report.statuses.push({ status: message.task.status, statusMessage: message.task.statusMessage });
                    }
                } else if (message.type === 'result') {
                    report.result = message.result;
                } else if (message.type === 'error') {
                    throw new ScenarioFailure(message.error.message, report);
                }
            }
            // Notifications are advisory and may trail the polled result: wait a little for the terminal one.
            if (!statusNotifications.some(notification => terminal(notification.status))) {
                await new Promise(resolve => {
                    wake = resolve;
                    setTimeout(resolve, args.settleMs);
                });
            }
            return report;
        },
    },
};

/**
 * The progress values and the call's result in the order they arrived ('result' marks the result). The SDK's onprogress
 * can miss an update that arrives in the same read as the result (over stdio): it runs notification handlers a
 * microtask later, after the response has already removed the call's progress handler. The wire order is what the
 * server controls.
 */
function progressWire(incoming) {
    const last = incoming.findLastIndex(m => m.id !== undefined && 'result' in m);
    return incoming
        .map((m, i) => (m.method === 'notifications/progress' ? m.params.progress : i === last ? 'result' : undefined))
        .filter(entry => entry !== undefined);
}

function progressTokens(incoming) {
    return [...new Set(incoming.filter(m => m.method === 'notifications/progress').map(m => m.params?.progressToken))];
}

function createTransport(args) {
    if (args.stdio) {
        return new StdioClientTransport({
            command: args.stdio.command,
            args: args.stdio.args,
            env: { ...process.env, ...args.stdio.env },
            cwd: args.stdio.cwd,
            stderr: 'inherit',
        });
    }
    return new StreamableHTTPClientTransport(new URL(args.url), { requestInit: { headers: args.headers } });
}

async function closeQuietly(client, transport, args) {
    const close = async () => {
        if (!args.stdio && transport.sessionId !== undefined) {
            await transport.terminateSession().catch(() => {});
        }
        await client.close().catch(() => {});
    };
    await Promise.race([close(), sleep(3000)]);
}

function emit(code, payload) {
    process.stdout.write(`${JSON.stringify(payload)}\n`, () => process.exit(code));
}

async function main() {
    let args;
    try {
        args = parseCommandLine();
    } catch (error) {
        emit(2, { ok: false, scenario: null, error: describeError(error) });
        return;
    }
    args.call = { name: args.tool, arguments: args.args };
    const scenario = SCENARIOS[args.scenario];
    const deadline = Date.now() + args.timeoutMs;
    const base = { scenario: args.scenario, transport: args.stdio ? 'stdio' : 'http' };
    // Every request gets what is left of the scenario's budget; the watchdog catches anything else.
    const options = () => ({ timeout: Math.max(1, deadline - Date.now()) });
    setTimeout(() => emit(1, { ok: false, ...base, error: { message: `scenario did not finish within ${args.timeoutMs} ms` } }), args.timeoutMs + 2000).unref();

    const incoming = [];
    let initializeResult;
    const transport = createTransport(args);
    observeIncoming(transport, message => {
        incoming.push(message);
        if (initializeResult === undefined && message.result?.protocolVersion !== undefined && message.result?.serverInfo !== undefined) {
            initializeResult = message.result;
        }
    });
    const client = new Client(CLIENT_INFO, { capabilities: scenario.capabilities ?? {} });
    try {
        await client.connect(transport, options());
        base.protocolVersion = initializeResult?.protocolVersion ?? null;
        base.serverInfo = client.getServerVersion() ?? null;
        const report = await scenario.run({ client, args, options, incoming });
        await closeQuietly(client, transport, args);
        emit(0, { ok: true, ...base, ...report });
    } catch (error) {
        await closeQuietly(client, transport, args);
        emit(1, { ok: false, ...base, ...(error instanceof ScenarioFailure ? error.report : {}), error: describeError(error) });
    }
}

await main();
