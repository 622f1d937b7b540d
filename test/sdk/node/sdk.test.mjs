// Drives a running Warden with the official openai npm package, unmodified
// but for the base URL. The Go test TestNodeSDK starts Warden, creates keys
// and runs this file with WARDEN_URL, WARDEN_KEY and WARDEN_NARROW_KEY set.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI, { AzureOpenAI } from "openai";

const url = process.env.WARDEN_URL;
const key = process.env.WARDEN_KEY;
const narrowKey = process.env.WARDEN_NARROW_KEY; // models: mock-echo only, rpm 2
if (!url || !key || !narrowKey) {
  throw new Error("run through TestNodeSDK: WARDEN_URL, WARDEN_KEY and WARDEN_NARROW_KEY must be set");
}
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });

test("chat completion", async () => {
  const r = await client.chat.completions.create({
    model: "mock-echo",
    messages: [{ role: "user", content: "hello from node" }],
  });
  assert.equal(r.choices[0].message.content, "hello from node");
  assert.ok(r.usage.total_tokens > 0);
});

test("streaming chat", async () => {
  const stream = await client.chat.completions.create({
    model: "mock-echo",
    stream: true,
    messages: [{ role: "user", content: "alpha beta gamma" }],
  });
  let text = "";
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.equal(text, "alpha beta gamma");
  assert.ok(chunks >= 3);
});

test("streaming with usage the client asked for", async () => {
  const stream = await client.chat.completions.create({
    model: "mock-echo",
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: "count me" }],
  });
  let usage = null;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  assert.ok(usage && usage.completion_tokens > 0);
});

test("embeddings (the SDK asks for base64)", async () => {
  const r = await client.embeddings.create({ model: "mock-echo", input: ["a", "b"] });
  assert.equal(r.data.length, 2);
  assert.equal(r.data[0].embedding.length, 16);
});

test("images", async () => {
  const r = await client.images.generate({ model: "mock-image", prompt: "a lighthouse", response_format: "b64_json" });
  const png = Buffer.from(r.data[0].b64_json, "base64");
  assert.equal(png.subarray(1, 4).toString(), "PNG");
});

test("responses", async () => {
  const r = await client.responses.create({ model: "mock-echo", input: "respond in kind" });
  assert.equal(r.output_text, "respond in kind");
});

test("models", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ["mock-echo", "mock-image", "mock-lorem"]);
});

test("Azure client", async () => {
  const az = new AzureOpenAI({ endpoint: url, apiKey: key, apiVersion: "2024-10-21", deployment: "mock-echo", maxRetries: 0 });
  const r = await az.chat.completions.create({ model: "mock-echo", messages: [{ role: "user", content: "hi azure" }] });
  assert.equal(r.choices[0].message.content, "hi azure");
  const s = await az.chat.completions.create({ model: "mock-echo", stream: true, messages: [{ role: "user", content: "x y" }] });
  let text = "";
  for await (const c of s) text += c.choices[0]?.delta?.content ?? "";
  assert.equal(text, "x y");
});

test("errors", async () => {
  const bad = new OpenAI({ baseURL: `${url}/v1`, apiKey: "wdn_" + "A".repeat(36), maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: "mock-echo", messages: [{ role: "user", content: "x" }] }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === "invalid_api_key");

  const narrow = new OpenAI({ baseURL: `${url}/v1`, apiKey: narrowKey, maxRetries: 0 });
  await assert.rejects(narrow.chat.completions.create({ model: "mock-lorem", messages: [{ role: "user", content: "x" }] }),
    (e) => e instanceof OpenAI.PermissionDeniedError && e.status === 403);
  await assert.rejects(narrow.chat.completions.create({ model: "mock-echo", messages: [{ role: "user", content: "x".repeat(5 << 20) }] }),
    (e) => e.status === 413);
  await narrow.chat.completions.create({ model: "mock-echo", messages: [{ role: "user", content: "1" }] });
  await narrow.chat.completions.create({ model: "mock-echo", messages: [{ role: "user", content: "2" }] });
  await assert.rejects(narrow.chat.completions.create({ model: "mock-echo", messages: [{ role: "user", content: "3" }] }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && e.headers.get("retry-after") !== null);

  const az = new AzureOpenAI({ endpoint: url, apiKey: key, apiVersion: "2024-10-21", deployment: "no-such-deployment", maxRetries: 0 });
  await assert.rejects(az.chat.completions.create({ model: "x", messages: [{ role: "user", content: "x" }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === "DeploymentNotFound");
});
