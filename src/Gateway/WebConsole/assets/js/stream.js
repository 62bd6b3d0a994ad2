// The live approvals stream (GET /api/approvals/stream), read with fetch() because EventSource cannot send the
// Authorization header. Reconnects with jittered exponential backoff; a silent connection (no keepalive for 45 s)
// counts as dropped.

import { ApiError } from './api.js';

const silenceLimitMs = 45_000;
const firstRetryMs = 1_000;
const maxRetryMs = 30_000;

/** Splits a text/event-stream into events: { event, data }. */
export class EventStreamParser {
  #buffer = '';
  #event = '';
  #data = [];

  /** Feeds a chunk of text; returns the events it completed. */
  push(chunk) {
    this.#buffer += chunk;
    const events = [];
    let newline;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line === '') {
        if (this.#data.length > 0) events.push({ event: this.#event || 'message', data: this.#data.join('\n') });
        this.#event = '';
        this.#data = [];
        continue;
      }
      if (line.startsWith(':')) continue; // a comment: the server's keepalive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') this.#event = value;
      else if (field === 'data') this.#data.push(value);
    }
    return events;
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * The open approvals the person may see, kept current from the stream. Listeners get
 * { type: 'state', state } (connecting / live / retrying with retryAt / refused with error),
 * { type: 'snapshot', items }, and { type: 'approval', item, previous } for every change.
 */
export class ApprovalStream {
  #api;
  #controller = null;
  #listeners = new Set();
  #items = new Map();
  #hasSnapshot = false;
  #state = { kind: 'idle' };

  constructor(api) {
    this.#api = api;
  }

  get state() {
    return this.#state;
  }

  /** The open approvals, newest first. */
  get items() {
    return [...this.#items.values()].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  }

  start() {
    if (this.#controller) return;
    this.#controller = new AbortController();
    this.#run(this.#controller.signal);
  }

  stop() {
    this.#controller?.abort();
    this.#controller = null;
    this.#items.clear();
    this.#hasSnapshot = false;
    this.#listeners.clear();
    this.#state = { kind: 'idle' };
  }

  /** Calls the listener with the current state (and items, once known) at once, then with every change. */
  subscribe(listener) {
    this.#listeners.add(listener);
    listener({ type: 'state', state: this.#state });
    if (this.#hasSnapshot) listener({ type: 'snapshot', items: this.items });
    return () => this.#listeners.delete(listener);
  }

  #emit(message) {
    for (const listener of [...this.#listeners]) {
      try {
        listener(message);
      } catch (error) {
        console.error('An approvals stream listener failed', error);
      }
    }
  }

  #setState(state) {
    this.#state = state;
    this.#emit({ type: 'state', state });
  }

  async #run(signal) {
    let failures = 0;
    while (!signal.aborted) {
      this.#setState({ kind: failures === 0 ? 'connecting' : 'reconnecting' });
      let error = null;
      try {
        await this.#readOnce(signal, () => { failures = 0; });
        error = new Error('The gateway closed the stream.');
      } catch (caught) {
        if (signal.aborted) return;
        if (caught instanceof ApiError && caught.refused) {
          // 401 signs the person out (the API client's handler); 403 will not change by retrying.
          this.#setState({ kind: 'refused', error: caught });
          return;
        }
        error = caught;
      }
      failures += 1;
      const delay = Math.min(maxRetryMs, firstRetryMs * 2 ** Math.min(failures - 1, 5)) * (0.5 + Math.random() / 2);
      this.#setState({ kind: 'retrying', retryAt: Date.now() + delay, error });
      await sleep(delay, signal);
    }
  }

  async #readOnce(outer, onSnapshot) {
    // Its own controller, so the silence watchdog can drop this connection without stopping the stream.
    const connection = new AbortController();
    const abort = () => connection.abort();
    outer.addEventListener('abort', abort, { once: true });
    let watchdog = setTimeout(abort, silenceLimitMs);
    try {
      const response = await this.#api.stream(connection.signal);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new EventStreamParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(watchdog);
        watchdog = setTimeout(abort, silenceLimitMs);
        for (const event of parser.push(value)) {
          this.#dispatch(event, onSnapshot);
        }
      }
    } catch (error) {
      if (connection.signal.aborted && !outer.aborted) throw new Error('The stream went silent.');
      throw error;
    } finally {
      clearTimeout(watchdog);
      outer.removeEventListener('abort', abort);
    }
  }

  #dispatch({ event, data }, onSnapshot) {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch (error) {
      console.error(`The approvals stream sent an unreadable ${event} event`, error);
      return;
    }
    if (event === 'snapshot') {
      this.#items = new Map((payload.items ?? []).filter((item) => item.open !== false).map((item) => [item.id, item]));
      this.#hasSnapshot = true;
      onSnapshot();
      this.#setState({ kind: 'live' });
      this.#emit({ type: 'snapshot', items: this.items });
    } else if (event === 'approval' && payload?.id) {
      const previous = this.#items.get(payload.id) ?? null;
      if (payload.open === false) this.#items.delete(payload.id);
      else this.#items.set(payload.id, payload);
      this.#emit({ type: 'approval', item: payload, previous });
    }
  }
}
