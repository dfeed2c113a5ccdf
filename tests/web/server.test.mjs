// Test 5: the chat page served by `wick serve`, in server mode.
//   headers: /, its files and /wasm/ (from --wasm-dir) carry COOP/COEP/CORP, so the page is
//     cross-origin isolated;
//   chat: with stories260K (--parallel 2), #mode-server, a prompt gets a complete answer;
//   streaming: with a slow model (see gguf.mjs), the answer's text grows in several steps
//     while the request runs (it is streamed, not shown at the end);
//   stop: a long answer is ended by #stop within 5 s, and the next turn still works.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { slowModel } from './gguf.mjs';
import { env, errorText, expect, finish, lastAssistant, launchBrowser, modelPath, sendEnabled, show, startServe, step, waitFor, waitForModel } from './lib.mjs';

const browser = await launchBrowser();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wick-web-serve-'));


// Opens the served page in server mode and waits until #model-select offers a model.
async function openServerMode(page, url) {
  await page.goto(`${url}/?mode=server`, { timeout: 30_000 });
  await page.click('#mode-server', { timeout: 10_000 });
  return waitFor(() => page.evaluate(() => {
    const s = document.querySelector('#model-select');
    return s && s.options && s.options.length ? [...s.options].map((o) => o.value || o.textContent) : null;
  }), '#model-select to list the server\'s models', { timeout: 30_000 });
}

// Sends a prompt; samples the answer every 20 ms until it is done. Returns {text, samples:
// distinct non-empty texts seen before done}. onFirstText(page) runs once text appears.
async function sendAndWatch(page, prompt, maxTokens, { timeout = 90_000, onFirstText = null } = {}) {
  const before = (await page.$$('#messages .message.assistant')).length;
  await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#prompt', prompt);
  await page.click('#send', { timeout: 10_000 });
  const seen = new Set();
  let fired = false;
  const end = await waitFor(async () => {
    const e = await errorText(page);
    if (e) throw new Error(`#error says: ${e}`);
    const a = await lastAssistant(page);
    if (!a || a.count <= before) return null;
    if (a.text && !a.done) seen.add(a.text);
    if (a.text && onFirstText && !fired) {
      fired = true;
      await onFirstText(a);
    }
    return a.done ? a : null;
  }, 'the answer to be done (data-done="true")', { timeout, interval: 20 });
  return { text: end.text, samples: seen.size };
}

// ------------------------------------------------------------------ stories260K
{
  const serve = await startServe(['-m', modelPath('stories260K.gguf'), '--parallel', '2', '--wasm-dir', env.wasmDir]);
  await step('wick serve: UI responses carry COOP/COEP/CORP', async () => {
    const problems = [];
    for (const p of ['/', '/app.js', '/style.css', '/wick.js', '/wick-worker.js', '/wasm/wick-st.js', '/wasm/wick-st.wasm']) {
      const r = await fetch(serve.url + p);
      await r.arrayBuffer();
      const h = (k) => r.headers.get(k);
      if (r.status !== 200) problems.push(`${p}: HTTP ${r.status}`);
      else if (h('cross-origin-opener-policy') !== 'same-origin' || h('cross-origin-embedder-policy') !== 'require-corp' ||
               h('cross-origin-resource-policy') !== 'same-origin') {
        problems.push(`${p}: COOP ${show(h('cross-origin-opener-policy'))}, COEP ${show(h('cross-origin-embedder-policy'))}, CORP ${show(h('cross-origin-resource-policy'))}`);
      }
      if (p === '/' && !/text\/html/.test(h('content-type') ?? '')) problems.push(`/: content-type ${h('content-type')}`);
      if (p.endsWith('.wasm') && h('content-type') !== 'application/wasm') problems.push(`${p}: content-type ${h('content-type')}, expected application/wasm`);
    }
    expect(!problems.length, problems.join('; '));
  });
  const page = await browser.newPage();
  await step('server mode: a prompt gets a complete answer (stories260K)', async () => {
    const models = await openServerMode(page, serve.url);
    expect(await page.evaluate(() => self.crossOriginIsolated), 'the page served by wick serve is not crossOriginIsolated');
    const r = await sendAndWatch(page, 'Once upon a time', 32);
    expect(r.text.length > 0, 'the answer is done but empty');
    return `models ${show(models)}, answer ${show(r.text.slice(0, 60))}`;
  }, page);
  await step('served page, in-browser mode: a model from #model-file answers (engine from --wasm-dir)', async () => {
    await page.goto(`${serve.url}/?mode=browser`, { timeout: 30_000 });
    await page.click('#mode-browser', { timeout: 10_000 });
    await page.setInputFiles('#model-file', modelPath('stories260K.gguf'));
    await page.click('#load', { timeout: 10_000 });
    await waitForModel(page, 120_000);
    const info = await page.evaluate(() => window.wickModel.info);
    const r = await sendAndWatch(page, 'Once upon a time', 32);
    expect(r.text.length > 0, 'the answer is done but empty');
    return `engine ${info.engine}, threads ${info.threads}, answer ${show(r.text.slice(0, 40))}`;
  }, page);
  await page.close();
  await step('wick serve (stories260K) exits cleanly', () => serve.stop());
}

// ------------------------------------------------------------------ slow model
{
  const slowPath = path.join(tmp, 'slow.gguf');
  fs.writeFileSync(slowPath, slowModel(fs.readFileSync(modelPath('stories260K.gguf'))));
  const serve = await startServe(['-m', slowPath, '--parallel', '2', '--ctx-size', '2048']);
  const page = await browser.newPage();
  await step('server mode: the answer streams (slow model, 300 tokens)', async () => {
    await openServerMode(page, serve.url);
    const r = await sendAndWatch(page, 'Tell me a story.', 300);
    expect(r.text.length > 0, 'the answer is done but empty');
    expect(r.samples >= 3, `saw ${r.samples} distinct partial texts before the answer was done; a streamed answer shows at least 3`);
    return `${r.samples} partial texts seen, ${r.text.length} chars`;
  }, page);
  await step('server mode: #stop ends a long answer within 5 s, the next turn works', async () => {
    let stopMs = null;
    let stoppedAt = 0;
    const r = await sendAndWatch(page, 'Tell me a very long story.', 1500, {
      timeout: 60_000,
      onFirstText: async () => {
        stoppedAt = Date.now();
        await page.click('#stop', { timeout: 5_000 });
      },
    });
    stopMs = Date.now() - stoppedAt;
    expect(stoppedAt > 0, 'no text appeared before the answer was done');
    expect(stopMs < 5_000, `the answer was done ${stopMs} ms after #stop (expected < 5000)`);
    // 1500 tokens of this model are well over 1000 characters: a shorter text was cut by #stop.
    expect(r.text.length < 1000, `the answer has ${r.text.length} chars: it ran to its end instead of stopping`);
    await waitFor(() => sendEnabled(page), '#send to be enabled after #stop', { timeout: 5_000 });
    const next = await sendAndWatch(page, 'Hello', 8, { timeout: 60_000 });
    expect(next.text.length > 0, 'the turn after #stop is done but empty');
    return `stopped ${stopMs} ms after #stop with ${r.text.length} chars; next turn ${show(next.text.slice(0, 40))}`;
  }, page);
  await page.close();
  await step('wick serve (slow model) exits cleanly', () => serve.stop());
}

await browser.close();
fs.rmSync(tmp, { recursive: true, force: true });
finish();
