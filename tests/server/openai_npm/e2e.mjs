// End-to-end check of an OpenAI-compatible server with the official openai npm client: if
// this passes, apps written against OpenAI's SDK work against the server unchanged.
//
//   node e2e.mjs BASE_URL MODEL_NAME     (e.g. node e2e.mjs http://127.0.0.1:8080 tiny)
//
// Prints one line per check; exits 0 when all pass, 1 when any fails, 2 on bad usage.
import OpenAI from 'openai';

const [baseUrl, model] = process.argv.slice(2);
if (!baseUrl || !model) {
  console.error('usage: node e2e.mjs BASE_URL MODEL_NAME');
  process.exit(2);
}

const client = new OpenAI({
  baseURL: baseUrl.replace(/\/+$/, '') + '/v1',
  apiKey: process.env.WICK_API_KEY || 'none',
  // A retry would hide a failed first attempt; the test wants to see it.
  maxRetries: 0,
  timeout: 60_000,
});

const messages = [{ role: 'user', content: 'Hello' }];
const params = { model, messages, max_tokens: 8, temperature: 0 };

class CheckFailed extends Error {}

function expect(cond, what) {
  if (!cond) throw new CheckFailed(what);
}

const show = (v) => JSON.stringify(v);

// Whatever an unexpected exception carries that helps: the HTTP status and body for API
// errors, the cause (ECONNREFUSED...) for connection errors.
function describe(err) {
  if (err instanceof CheckFailed) return err.message;
  if (err instanceof OpenAI.APIError) {
    const status = err.status === undefined ? '' : `HTTP ${err.status} `;
    let cause = '';
    for (let c = err.cause; c; c = c.cause) cause += ` (cause: ${c.code ?? c.message ?? c})`;
    return `${err.constructor.name}: ${status}${err.message}${cause}`;
  }
  return err?.stack ?? String(err);
}

let failures = 0;
async function check(name, fn) {
  try {
    const detail = await fn();
    console.log(`PASS ${name}${detail ? ': ' + detail : ''}`);
  } catch (err) {
    failures++;
    console.log(`FAIL ${name}: ${describe(err)}`);
  }
}

// Set by a), compared against by b): greedy decoding makes both runs produce the same text.
let reference = null;

await check('a) non-streaming chat', async () => {
  const r = await client.chat.completions.create(params);
  expect(r.object === 'chat.completion', `object is ${show(r.object)}, want "chat.completion"`);
  expect(Array.isArray(r.choices) && r.choices.length > 0, `choices is ${show(r.choices)}`);
  const choice = r.choices[0];
  expect(choice.message?.role === 'assistant',
         `choices[0].message.role is ${show(choice.message?.role)}, want "assistant"`);
  expect(typeof choice.message.content === 'string',
         `choices[0].message.content is ${show(choice.message.content)}, want a string`);
  expect(['stop', 'length'].includes(choice.finish_reason),
         `finish_reason is ${show(choice.finish_reason)}, want "stop" or "length"`);
  const u = r.usage;
  expect(u && typeof u === 'object', `usage is ${show(u)}`);
  expect(u.prompt_tokens > 0, `usage.prompt_tokens is ${show(u.prompt_tokens)}, want > 0`);
  expect(u.completion_tokens >= 1 && u.completion_tokens <= 8,
         `usage.completion_tokens is ${show(u.completion_tokens)}, want 1..8 (max_tokens 8)`);
  expect(u.total_tokens === u.prompt_tokens + u.completion_tokens,
         `usage.total_tokens ${u.total_tokens} != prompt ${u.prompt_tokens} + ` +
             `completion ${u.completion_tokens}`);
  reference = { text: choice.message.content, completionTokens: u.completion_tokens };
  return `${show(choice.message.content)}, finish ${choice.finish_reason}, ` +
         `${u.prompt_tokens}+${u.completion_tokens} tokens`;
});

await check('b) streaming chat', async () => {
  const stream = await client.chat.completions.create({
    ...params,
    stream: true,
    stream_options: { include_usage: true },
  });
  let chunks = 0;
  let text = '';
  let finishes = 0;
  let usage = null;
  for await (const chunk of stream) {
    chunks++;
    expect(chunk.object === 'chat.completion.chunk',
           `chunk ${chunks}: object is ${show(chunk.object)}, want "chat.completion.chunk"`);
    for (const c of chunk.choices ?? []) {
      if (typeof c.delta?.content === 'string') text += c.delta.content;
      if (c.finish_reason != null) finishes++;
    }
    if (chunk.usage) usage = { chunk: chunks, ...chunk.usage };
  }
  expect(chunks > 0, 'the stream had no chunks');
  expect(finishes === 1, `${finishes} choices carried a finish_reason, want exactly 1`);
  expect(usage !== null, 'no chunk carried usage (stream_options.include_usage was true)');
  expect(usage.chunk === chunks,
         `usage came in chunk ${usage.chunk} of ${chunks}, want the final chunk`);
  expect(usage.total_tokens === usage.prompt_tokens + usage.completion_tokens,
         `usage.total_tokens ${usage.total_tokens} != prompt ${usage.prompt_tokens} + ` +
             `completion ${usage.completion_tokens}`);
  expect(reference !== null, 'no non-streaming result to compare with (a) failed)');
  expect(usage.completion_tokens === reference.completionTokens,
         `usage.completion_tokens is ${usage.completion_tokens}, non-streaming gave ` +
             `${reference.completionTokens}`);
  expect(text === reference.text,
         `streamed text ${show(text)} differs from the non-streaming ${show(reference.text)}`);
  return `${chunks} chunks, ${show(text)}, ${usage.completion_tokens} tokens`;
});

await check('c) models.list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  expect(ids.includes(model), `models are ${show(ids)}, want one named ${show(model)}`);
  return show(ids);
});

await check('d) invalid temperature is a 400', async () => {
  let err = null;
  try {
    await client.chat.completions.create({ ...params, temperature: 5 });
  } catch (e) {
    err = e;
  }
  expect(err !== null, 'temperature 5 was accepted, want HTTP 400');
  if (!(err instanceof OpenAI.BadRequestError)) {
    throw new CheckFailed(`want OpenAI.BadRequestError, got ${describe(err)}`);
  }
  expect(err.status === 400, `status is ${err.status}, want 400`);
  const param = err.param ?? err.error?.param ?? '';
  expect(/temperature/i.test(`${param} ${err.message}`),
         `neither error.param (${show(param)}) nor the message (${show(err.message)}) ` +
             'mentions temperature');
  return err.message;
});

await check('e) non-streaming completion', async () => {
  const r = await client.completions.create({
    model,
    prompt: 'Once upon a time',
    max_tokens: 8,
    temperature: 0,
  });
  expect(r.object === 'text_completion', `object is ${show(r.object)}, want "text_completion"`);
  expect(Array.isArray(r.choices) && r.choices.length > 0, `choices is ${show(r.choices)}`);
  expect(typeof r.choices[0].text === 'string',
         `choices[0].text is ${show(r.choices[0].text)}, want a string`);
  return show(r.choices[0].text);
});

if (failures > 0) {
  console.log(`${failures} of 5 checks failed`);
  process.exit(1);
}
console.log('all 5 checks passed');
