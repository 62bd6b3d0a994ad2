// Tools the gateway's own integration tests need beyond the conformance fixtures: what the upstream
// actually received (identity mediation), a long call that reports progress and notices
// cancellation, and a tool list that changes at runtime.
import * as z from 'zod';
import { json, progress, sleep, text } from './fixture-util.mjs';

const MAX_SLOW_MS = 10 * 60 * 1000;
const MAX_WAIT_MS = 60 * 1000;
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function registerGatewayTools(server, state) {
    state.servers.add(server);
    server.server.onclose = () => state.servers.delete(server);

    server.registerTool(
        'echo_headers',
        {
            description: 'Returns the HTTP request headers this call arrived with (names lower-cased), as JSON.',
            annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
        },
        extra => json({ headers: extra.requestInfo?.headers ?? null }),
    );

    server.registerTool(
        'slow',
        {
            description:
                'Runs for ms milliseconds in the given number of steps, reporting progress after each step when the call ' +
                'carries a progress token. Honours cancellation; last_cancelled tells how the latest slow call ended.',
            inputSchema: {
                ms: z.number().int().min(0).max(MAX_SLOW_MS).default(1000).describe('Total duration in milliseconds'),
                steps: z.number().int().min(1).max(1000).default(5).describe('Number of steps (progress notifications)'),
            },
            annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
        },
        async ({ ms, steps }, extra) => runSlow(state.slow, ms, steps, extra),
    );

    server.registerTool(
        'last_cancelled',
        {
            description:
                'How the most recent slow call ended: {cancelled, last, inFlight, cancelledTotal, completedTotal}. ' +
                'With waitMs, first waits (bounded) until no slow call is running.',
            inputSchema: { waitMs: z.number().int().min(0).max(MAX_WAIT_MS).default(0).describe('Wait up to this long for running slow calls to end') },
            annotations: { readOnlyHint: true, openWorldHint: false },
        },
        async ({ waitMs }, extra) => {
            await waitForSlowCalls(state.slow, waitMs, extra.signal);
            const { inFlight, cancelledTotal, completedTotal, last } = state.slow;
            return json({ cancelled: last?.cancelled ?? null, last, inFlight, cancelledTotal, completedTotal });
        },
    );

    server.registerTool(
        'add_tool',
        {
            description:
                'Adds a tool with the given name to every session of this server (each is told with ' +
                'notifications/tools/list_changed). The new tool echoes its arguments.',
            inputSchema: {
                name: z.string().regex(TOOL_NAME).describe('Name of the tool to add'),
                description: z.string().optional().describe('Its description'),
            },
            annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
        },
        ({ name, description }) => {
            const definition = { description: description ?? 'Added at runtime by add_tool; echoes its arguments.' };
            try {
                // Every session has the same tools, so a name taken here is taken everywhere.
                registerDynamicTool(server, name, definition);
            } catch {
                return { content: [text(`A tool named ${name} already exists.`)], isError: true };
            }
            state.dynamicTools.set(name, definition);
            for (const other of state.servers) {
                if (other !== server) {
                    registerDynamicTool(other, name, definition);
                }
            }
            return json({ added: name, tools: [...state.dynamicTools.keys()] });
        },
    );

    server.registerTool(
        'touch_resource',
        {
            description: 'Sends notifications/resources/updated for the URI if this session subscribed to it.',
            inputSchema: { uri: z.string().describe('Resource URI, e.g. test://watched-resource') },
            annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
        },
        async ({ uri }) => {
            const subscribed = server.subscriptions?.has(uri) ?? false;
            if (subscribed) {
                await server.server.sendResourceUpdated({ uri });
            }
            return json({ uri, subscribed, notified: subscribed });
        },
    );

    for (const [name, definition] of state.dynamicTools) {
        registerDynamicTool(server, name, definition);
    }
}

function registerDynamicTool(server, name, { description }) {
    // McpServer sends notifications/tools/list_changed itself when a tool is registered after connect.
    server.registerTool(
        name,
        { description, inputSchema: z.looseObject({}), annotations: { readOnlyHint: true, openWorldHint: false } },
        args => json({ tool: name, arguments: args }),
    );
}

async function runSlow(slow, ms, steps, extra) {
    slow.inFlight++;
    let completedSteps = 0;
    const finish = outcome => {
        slow.inFlight--;
        slow.last = { ms, steps, completedSteps, ...outcome, endedAt: new Date().toISOString() };
        if (outcome.cancelled) {
            slow.cancelledTotal++;
        } else {
            slow.completedTotal++;
        }
        for (const wake of slow.waiters) {
            wake();
        }
    };
    try {
        for (let step = 1; step <= steps; step++) {
            await sleep(ms / steps, extra.signal);
            completedSteps = step;
            await progress(extra, step, steps, `step ${step} of ${steps}`);
        }
    } catch (error) {
        if (extra.signal.aborted) {
            finish({ cancelled: true, reason: String(extra.signal.reason ?? 'aborted') });
        } else {
            finish({ cancelled: false, failed: String(error) });
        }
        throw error;
    }
    finish({ cancelled: false });
    return { content: [text(`slow finished ${steps} steps in ${ms} ms`)] };
}

async function waitForSlowCalls(slow, waitMs, signal) {
    if (slow.inFlight === 0 || waitMs === 0) {
        return;
    }
    const done = new AbortController();
    const wake = () => {
        if (slow.inFlight === 0) {
            done.abort();
        }
    };
    slow.waiters.add(wake);
    try {
        await sleep(waitMs, AbortSignal.any([done.signal, signal]));
    } catch (error) {
        if (!done.signal.aborted) {
            throw error; // the last_cancelled call itself was cancelled
        }
    } finally {
        slow.waiters.delete(wake);
    }
}
