// Preloaded into a stdio MCP server (node --import ./stdio-recorder.mjs server.js ...): appends every
// JSON-RPC message the server reads on stdin and writes on stdout to the JSON-lines file named by
// MCP_RECORD_FILE, one {"direction": "in" | "out", "message": {...}} per line, in the order the server
// handled them. It only observes: the server reads and writes its streams exactly as it would without it,
// so a test can prove what a real server received (a notifications/cancelled, say) and what it answered.
// Without MCP_RECORD_FILE it does nothing.
import { appendFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

const file = process.env.MCP_RECORD_FILE;

/** A sink for one direction's byte stream that records each complete newline-delimited message. */
function recorder(direction) {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    return chunk => {
        pending += typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk));
        let newline;
        while ((newline = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, newline).trim();
            pending = pending.slice(newline + 1);
            if (line.length > 0) {
                let message;
                try {
                    message = JSON.parse(line);
                } catch {
                    message = { unparsed: line };
                }
                // Synchronous, so the file's order is the order the server saw the messages in.
                appendFileSync(file, `${JSON.stringify({ direction, message })}\n`);
            }
        }
    };
}

if (file) {
    // Wrapping emit and write (rather than adding a 'data' listener) leaves the stream's flowing mode to the
    // server: a listener added here would start reading before the server listens, and it would lose data.
    const recordIn = recorder('in');
    const stdin = process.stdin;
    const emit = stdin.emit;
    stdin.emit = function (event, ...args) {
        if (event === 'data') {
            recordIn(args[0]);
        }
        return emit.call(this, event, ...args);
    };

    const recordOut = recorder('out');
    const stdout = process.stdout;
    const write = stdout.write;
    stdout.write = function (chunk, ...rest) {
        recordOut(chunk);
        return write.call(this, chunk, ...rest);
    };
}
