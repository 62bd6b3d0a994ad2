// The people's HTTP API, called with the signed-in person's token in the Authorization header (never in a URL).

/** The gateway's root: the console is served at <root>/console/, the API at <root>/api/. */
const root = new URL('../', document.baseURI);

export function apiUrl(path, query) {
  const url = new URL(path.replace(/^\//, ''), root);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
  }
  return url;
}

/** A refusal or failure answered by the API: its status and the problem's title and detail. */
export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `The gateway answered ${status}.`);
    this.name = 'ApiError';
    this.status = status;
    this.title = title ?? '';
    this.detail = detail ?? '';
  }

  get refused() {
    return this.status === 401 || this.status === 403;
  }
}

async function errorOf(response) {
  let title = '';
  let detail = '';
  const type = response.headers.get('Content-Type') ?? '';
  try {
    if (type.includes('json')) {
      const problem = await response.json();
      title = typeof problem?.title === 'string' ? problem.title : '';
      detail = typeof problem?.detail === 'string' ? problem.detail : '';
    } else {
      detail = (await response.text()).slice(0, 500);
    }
  } catch (error) {
    detail = `The gateway answered ${response.status}, and its explanation could not be read (${error.message}).`;
  }
  return new ApiError(response.status, title, detail);
}

/**
 * An API client for one token. onUnauthorized is called when the API answers 401 (the token was removed or
 * rotated while signed in), after which the caller still gets the ApiError.
 */
export function createApi(token, onUnauthorized = () => {}) {
  async function send(method, path, { query, body, signal, accept = 'application/json' } = {}) {
    const headers = { Accept: accept, Authorization: `Bearer ${token}` };
    const init = { method, headers, signal, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(apiUrl(path, query), init);
    if (!response.ok) {
      const error = await errorOf(response);
      if (response.status === 401) onUnauthorized(error);
      throw error;
    }
    return response;
  }

  async function json(method, path, options) {
    const response = await send(method, path, options);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  return {
    me: (signal) => json('GET', 'api/me', { signal }),
    approvals: (query, signal) => json('GET', 'api/approvals', { query, signal }),
    approval: (id, signal) => json('GET', `api/approvals/${encodeURIComponent(id)}`, { signal }),
    history: (id, signal) => json('GET', `api/approvals/${encodeURIComponent(id)}/history`, { signal }),
    approve: (id, body) => json('POST', `api/approvals/${encodeURIComponent(id)}/approve`, { body }),
    deny: (id, body) => json('POST', `api/approvals/${encodeURIComponent(id)}/deny`, { body }),
    toolCalls: (query, signal) => json('GET', 'api/audit/tool-calls', { query, signal }),
    workflows: (query, signal) => json('GET', 'api/audit/workflows', { query, signal }),
    status: (signal) => json('GET', 'api/status', { signal }),
    /** The approvals stream's response, for reading its body as it arrives. */
    stream: (signal) => send('GET', 'api/approvals/stream', { signal, accept: 'text/event-stream' }),
  };
}
