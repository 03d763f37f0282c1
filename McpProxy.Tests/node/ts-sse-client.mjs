// A real TypeScript SDK client of the deprecated HTTP+SSE transport: node ts-sse-client.mjs <sse-url> [bearer-token]
// Prints one JSON object describing what it saw (or the error it got connecting); the C# test asserts on it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";

const url = process.argv[2];
const token = process.argv[3];
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const client = new Client({ name: "ts-sse-test-client", version: "1.0.0" });
const transport = new SSEClientTransport(new URL(url), {
  requestInit: { headers },
  eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers ?? {}), ...headers } }) },
});
try {
  await client.connect(transport);
} catch (e) {
  console.log(JSON.stringify({ connectError: { code: e.code ?? null, message: String(e.message) } }));
  process.exit(0);
}

const tools = await client.listTools();
const echo = await client.callTool({ name: "b/echo", arguments: { message: "from ts over sse" } });
let deniedError = null;
try {
  await client.callTool({ name: "b/toggle_extra", arguments: {} });
} catch (e) {
  deniedError = { code: e.code, message: e.message };
}

console.log(JSON.stringify({
  server: client.getServerVersion(),
  tools: tools.tools.map((t) => t.name),
  echo: echo.content[0].text,
  deniedError,
}));
await client.close();
