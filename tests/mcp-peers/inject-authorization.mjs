// Preloaded (node --import) into the conformance runner, which has no option for request headers: adds
// "Authorization: <MCP_AUTHORIZATION>" to every fetch to MCP_AUTHORIZATION_ORIGIN, exactly as an agent that holds a
// gateway key would. Nothing else about the suite's requests changes.
const authorization = process.env.MCP_AUTHORIZATION;
const origin = process.env.MCP_AUTHORIZATION_ORIGIN;
if (!authorization || !origin) {
  throw new Error("inject-authorization.mjs needs MCP_AUTHORIZATION and MCP_AUTHORIZATION_ORIGIN");
}

const originalFetch = globalThis.fetch;
globalThis.fetch = (input, init = {}) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.origin !== origin) {
    return originalFetch(input, init);
  }

  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  if (!headers.has("authorization")) {
    headers.set("authorization", authorization);
  }

  return originalFetch(input, { ...init, headers });
};
