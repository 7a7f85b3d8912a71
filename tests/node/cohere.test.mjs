// Cohere through the gateway with the official Node `openai` SDK (started by tests/run.sh): the
// gateway translates to Cohere's v2 API behind a Prism proxy validating against Cohere's spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through ./tests/run.sh`);
  return value;
}

const client = new OpenAI({
  baseURL: `${env('GATEWAY_URL').replace(/\/$/, '')}/v1`,
  apiKey: env('GATEWAY_KEY'),
  maxRetries: 0,
  timeout: 30_000,
});

const MODEL = 'cohere/command-a-03-2025';
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

test('cohere: streamed text equals the JSON answer, usage last', async () => {
  const messages = [{ role: 'user', content: 'Node to Cohere [[fake words=9]]' }];
  const full = await client.chat.completions.create({ model: MODEL, messages });
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let first = true;
  let last;
  for await (const chunk of stream) {
    if (first) assert.equal(chunk.choices[0].delta.role, 'assistant');
    first = false;
    if (chunk.choices.length) text += chunk.choices[0].delta.content ?? '';
    last = chunk;
  }
  assert.equal(text, full.choices[0].message.content);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.total_tokens, full.usage.total_tokens);
  assert.equal(last['x-llm-gateway'].provider, 'cohere');
});

test('cohere: streamed tool call via the SDK helper', async () => {
  const runner = client.chat.completions.stream({
    model: MODEL,
    messages: [{ role: 'user', content: 'Weather in Lisbon?' }],
    tools: [WEATHER_TOOL],
  });
  const final = await runner.finalChatCompletion();
  const calls = final.choices[0].message.tool_calls;
  assert.equal(calls.length, 1);
  assert.match(calls[0].id, /^get_weather_/);
  assert.equal(calls[0].function.name, 'get_weather');
  assert.equal(typeof JSON.parse(calls[0].function.arguments).city, 'string');
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
});

test('cohere: embeddings, base64 by default, decode to the float answer', async () => {
  const input = ['hello world', 'the gateway'];
  const asDefault = await client.embeddings.create({ model: 'cohere/embed-english-v3.0', input });
  const asFloat = await client.embeddings.create({
    model: 'cohere/embed-english-v3.0',
    input,
    encoding_format: 'float',
  });
  assert.equal(asFloat.data[0].embedding.length, 1024);
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(Array.from(asDefault.data[i].embedding), Array.from(Float32Array.from(asFloat.data[i].embedding)));
  }
});
