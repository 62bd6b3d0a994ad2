// Small helpers shared by the fixture's tool definitions.

/** Resolves after ms, or rejects with the signal's reason as soon as it aborts. */
export const sleep = (ms, signal) =>
    new Promise((resolve, reject) => {
        if (signal?.aborted) {
            reject(signal.reason);
            return;
        }
        const onAbort = () => {
            clearTimeout(timer);
            reject(signal.reason);
        };
        const timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
    });

export const text = value => ({ type: 'text', text: value });

/** A tool result carrying a JSON value both as text and as structured content. */
export const json = value => ({ content: [text(JSON.stringify(value))], structuredContent: value });

/** Sends a log message on the stream of the request being handled, honouring logging/setLevel. */
export async function log(mcpServer, extra, level, data) {
    if (mcpServer.server.isMessageIgnored(level, extra.sessionId)) {
        return;
    }
    await extra.sendNotification({ method: 'notifications/message', params: { level, logger: 'fixture', data } });
}

/** Reports progress when the request carried a progress token; does nothing otherwise. */
export async function progress(extra, value, total, message) {
    const progressToken = extra._meta?.progressToken;
    if (progressToken === undefined) {
        return;
    }
    await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken, progress: value, total, ...(message && { message }) },
    });
}
