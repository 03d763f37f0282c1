// A real TypeScript SDK client against the proxy: node ts-client.mjs <mcp-endpoint-url>
// Prints one JSON object describing what it saw; the C# test asserts on it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const url = process.argv[2];
const client = new Client({ name: "ts-sdk-test-client", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url));
let listChanged = 0;
client.setNotificationHandler(ToolListChangedNotificationSchema, () => { listChanged++; });
await client.connect(transport);

const tools = await client.listTools();
const echo = await client.callTool({ name: "s/echo", arguments: { message: "from ts" } });
const progress = [];
const slow = await client.callTool(
  { name: "s/slow", arguments: { steps: 3, delay_ms: 0 } },
  undefined,
  { onprogress: (p) => progress.push(p.progress) });
const prompts = await client.listPrompts();
const prompt = await client.getPrompt({ name: "s/greet", arguments: { name: "TS" } });
const resource = await client.readResource({ uri: "s/sample://info" });
let unknownError = null;
try {
  await client.callTool({ name: "s/does_not_exist", arguments: {} });
} catch (e) {
  unknownError = { code: e.code, message: e.message };
}
await client.callTool({ name: "s/toggle_extra", arguments: {} });
for (let i = 0; i < 100 && listChanged === 0; i++) await new Promise((r) => setTimeout(r, 50));

console.log(JSON.stringify({
  server: client.getServerVersion(),
  protocolVersion: transport.protocolVersion ?? null,
  tools: tools.tools.map((t) => t.name),
  echo: echo.content[0].text,
  slow: slow.content[0].text,
  progress,
  prompts: prompts.prompts.map((p) => p.name),
  prompt: prompt.messages[0].content.text,
  resource: resource.contents[0].text,
  resourceUri: resource.contents[0].uri,
  unknownError,
  listChanged,
}));
await client.close();
