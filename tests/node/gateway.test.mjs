// The official Node `openai` SDK against the running gateway (started by tests/run.sh,
// which exports GATEWAY_URL and GATEWAY_KEY). Run: node --test tests/node/
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

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

test('chat completion', async () => {
  const resp = await client.chat.completions.create({
    model: 'openai/gpt-4o',
    messages: [{ role: 'user', content: 'Hello from node' }],
  });
  assert.equal(resp.object, 'chat.completion');
  assert.equal(resp.choices.length, 1);
  assert.match(resp.choices[0].message.content, /simulated reply/);
  assert.match(resp.choices[0].message.content, /Hello from node/);
  assert.equal(resp.choices[0].finish_reason, 'stop');
  assert.ok(resp.usage.prompt_tokens > 0 && resp.usage.completion_tokens > 0);
  assert.equal(resp['x-llm-gateway'].provider, 'openai');
});

test('bedrock: a streamed tool call reassembles to the non-streamed one', async () => {
  const request = {
    model: 'bedrock/anthropic.claude-3-5-haiku-20241022-v1:0',
    messages: [{ role: 'user', content: 'Weather in Lima?' }],
    tools: [WEATHER_TOOL],
  };
  const full = await client.chat.completions.create(request);
  const stream = await client.chat.completions.create({ ...request, stream: true });
  let first = true;
  let id = '';
  let args = '';
  let finish = null;
  for await (const chunk of stream) {
    if (first) assert.equal(chunk.choices[0].delta.role, 'assistant');
    first = false;
    for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
      id ||= call.id ?? '';
      args += call.function?.arguments ?? '';
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  const expected = full.choices[0].message.tool_calls[0];
  assert.ok(id);
  assert.deepEqual(JSON.parse(args), JSON.parse(expected.function.arguments));
  assert.equal(finish, 'tool_calls');
});

test('chat completion with response headers', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'groq/llama-3.1-8b-instant', messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
  assert.ok(response.headers.get('x-request-id'));
  assert.ok(response.headers.get('x-llm-gateway'));
  assert.equal(data['x-llm-gateway'].request_id, response.headers.get('x-request-id'));
});

test('stream with usage', async () => {
  const messages = [{ role: 'user', content: 'Stream from node' }];
  const full = await client.chat.completions.create({ model: 'mistral/mistral-small-latest', messages });
  const stream = await client.chat.completions.create({
    model: 'mistral/mistral-small-latest',
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, full.choices[0].message.content);
  const last = chunks.at(-1);
  assert.ok(last.usage, 'include_usage: no usage on the last chunk');
  assert.ok(last.usage.completion_tokens > 0);
  assert.ok(last['x-llm-gateway'], 'last chunk lacks x-llm-gateway');
  const finishes = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
  assert.deepEqual(finishes, ['stop']);
});

test('tool call, then the tool result', async () => {
  const messages = [{ role: 'user', content: 'Weather in Madrid?' }];
  const resp = await client.chat.completions.create({
    model: 'openai/gpt-4o',
    messages,
    tools: [WEATHER_TOOL],
    tool_choice: 'auto',
  });
  const choice = resp.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.equal(typeof JSON.parse(call.function.arguments), 'object');
  messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: '{"temp_c": 25}' });
  const second = await client.chat.completions.create({ model: 'openai/gpt-4o', messages, tools: [WEATHER_TOOL] });
  assert.equal(second.choices[0].finish_reason, 'stop');
  assert.ok(second.choices[0].message.content);
});

test('streamed tool call via the SDK helper', async () => {
  const runner = client.chat.completions.stream({
    model: 'together/meta-llama/Llama-3.3-70B-Instruct-Turbo',
    messages: [{ role: 'user', content: 'Weather in Lisbon?' }],
    tools: [WEATHER_TOOL],
  });
  const final = await runner.finalChatCompletion();
  const calls = final.choices[0].message.tool_calls;
  assert.equal(calls.length, 1);
  assert.ok(calls[0].id);
  assert.equal(calls[0].function.name, 'get_weather');
  assert.equal(typeof JSON.parse(calls[0].function.arguments), 'object');
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
});

for (const model of ['openai/text-embedding-3-small', 'mistral/mistral-embed', 'bedrock/amazon.titan-embed-text-v2:0']) {
  test(`embeddings: base64 (SDK default) decodes to the float answer (${model})`, async () => {
    const input = ['hello world', 'the gateway'];
    const asDefault = await client.embeddings.create({ model, input });
    const asFloat = await client.embeddings.create({ model, input, encoding_format: 'float' });
    assert.equal(asDefault.data.length, 2);
    assert.equal(asFloat.data.length, 2);
    for (let i = 0; i < 2; i++) {
      const a = asDefault.data[i].embedding;
      const b = asFloat.data[i].embedding;
      assert.ok(Array.isArray(a) && a.length > 0, 'base64 embedding did not decode to an array');
      assert.equal(a.length, b.length);
      // base64 carries float32: compare at float32 precision.
      assert.deepEqual(Array.from(a), Array.from(Float32Array.from(b)));
    }
  });
}

test('embeddings: the wire format honours encoding_format', async () => {
  const response = await client.embeddings
    .create({ model: 'openai/text-embedding-3-small', input: 'x', encoding_format: 'base64' })
    .asResponse();
  const body = await response.json();
  assert.equal(typeof body.data[0].embedding, 'string');
});

test('errors: unknown model and bad key', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'openai/nope', messages: [{ role: 'user', content: 'hi' }] }),
    (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found',
  );
  const bad = new OpenAI({ baseURL: client.baseURL, apiKey: 'wrong-key', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (err) => err instanceof OpenAI.AuthenticationError);
});

test('models list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  for (const id of ['openai/gpt-4o', 'groq/llama-3.1-8b-instant', 'mistral/mistral-embed']) {
    assert.ok(ids.includes(id), `${id} missing from /v1/models`);
  }
});

test('anthropic: streamed tool call and text, assembled by the SDK', async () => {
  const model = 'anthropic/claude-sonnet-4-6';
  const runner = client.chat.completions.stream({
    model,
    messages: [{ role: 'user', content: 'Weather in Lisbon?' }],
    tools: [WEATHER_TOOL],
    stream_options: { include_usage: true },
  });
  const completion = await runner.finalChatCompletion();
  const call = completion.choices[0].message.tool_calls[0];
  assert.equal(completion.choices[0].finish_reason, 'tool_calls');
  assert.match(call.id, /^toolu_/);
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'example' });
  assert.ok(completion.usage.prompt_tokens > 0 && completion.usage.completion_tokens > 0);
  const answer = await client.chat.completions.create({
    model,
    tools: [WEATHER_TOOL],
    messages: [
      { role: 'user', content: 'Weather in Lisbon?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: call.id,
            type: 'function',
            function: { name: call.function.name, arguments: call.function.arguments },
          },
        ],
      },
      { role: 'tool', tool_call_id: call.id, content: 'Sunny, 24C' },
    ],
  });
  assert.match(answer.choices[0].message.content, /The tool returned: Sunny, 24C/);
  assert.equal(answer['x-llm-gateway'].provider, 'anthropic');
});
