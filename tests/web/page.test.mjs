// Tests 2, 3, 4 and 6: the chat page in in-browser mode, driven like a user.
//   chat: type a prompt, press #send, an assistant message completes with text, #tps shows a
//     number; then a full-page screenshot goes to the artifacts folder (chat-page.png).
//   abort: on a slow model (see gguf.mjs), a generation of up to 100000 tokens is stopped with
//     #stop: the message completes within 5 s, #send works again, and the page answers
//     page.evaluate quickly while the engine is generating.
//   corrupt model: a GGUF with its tensor data cut short puts a message in #error within 20 s
//     and the page stays responsive.
//   sha256: Wick.load rejects a download whose digest differs and accepts the right one.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { corruptModel, slowModel } from './gguf.mjs';
import { env, errorText, expect, finish, lastAssistant, launchBrowser, modelPath, sendEnabled, show, sleep, startStaticServer, step, waitFor, waitForModel, within } from './lib.mjs';

const stories = fs.readFileSync(modelPath('stories260K.gguf'));
const server = await startStaticServer({
  isolated: true,
  extra: { '/models/corrupt.gguf': corruptModel(stories), '/models/slow.gguf': slowModel(stories) },
});
const browser = await launchBrowser();


// Sends a prompt through the UI and waits for the assistant message that answers it.
async function chatTurn(page, prompt, maxTokens, timeout = 90_000) {
  const before = (await page.$$('#messages .message.assistant')).length;
  await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#prompt', prompt);
  await page.click('#send', { timeout: 10_000 });
  return waitFor(async () => {
    const a = await lastAssistant(page);
    const e = await errorText(page);
    if (e) throw new Error(`#error says: ${e}`);
    return a && a.count > before && a.done ? a : null;
  }, 'an assistant message with data-done="true"', { timeout, interval: 100 });
}

async function openModel(page, model) {
  await page.goto(`${server.url}/?mode=browser&model=/models/${model}&autoload=1`, { timeout: 30_000 });
  await waitForModel(page, 180_000);
}

// ------------------------------------------------------------------ chat + screenshot
{
  const page = await browser.newPage();
  const ok = await step('chat in-browser: a prompt gets a complete answer', async () => {
    await openModel(page, 'stories260K.gguf');
    expect(await page.evaluate(() => window.wickReady === true), 'window.wickReady is not true after the model loaded');
    const a = await chatTurn(page, 'Once upon a time', 64);
    expect(a.text.length > 0, 'the assistant message is done but empty');
    const user = await page.evaluate(() => [...document.querySelectorAll('#messages .message.user')].map((e) => e.textContent));
    expect(user.some((t) => t.includes('Once upon a time')), `no .message.user holds the prompt; user messages: ${show(user)}`);
    const tps = await page.evaluate(() => document.querySelector('#tps')?.textContent.trim() ?? null);
    const n = Number(/\d+(?:\.\d+)?/.exec(tps ?? '')?.[0]);
    expect(n > 0, `#tps should show a tokens/s number above 0, shows ${show(tps)}`);
    expect(!(await errorText(page)), `#error is not empty: ${await errorText(page)}`);
    return `answer ${show(a.text.slice(0, 60))}..., #tps ${show(tps)}`;
  }, page);
  if (ok) {
    await step('screenshot of the chat page', async () => {
      fs.mkdirSync(env.artifacts, { recursive: true });
      const file = path.join(env.artifacts, 'chat-page.png');
      await page.screenshot({ path: file, fullPage: true });
      expect(fs.statSync(file).size > 1000, `${file} is suspiciously small`);
      console.log(`screenshot: ${file}`);
    });
  }
  await page.close();
}

// ------------------------------------------------------------------ abort
{
  const page = await browser.newPage();
  await step('abort: #stop ends a long generation within 5 s, page stays responsive', async () => {
    await openModel(page, 'slow.gguf');
    const before = (await page.$$('#messages .message.assistant')).length;
    await page.fill('#max-tokens', '100000');
    await page.fill('#prompt', 'Tell me a very long story.');
    await page.click('#send', { timeout: 10_000 });
    const first = await waitFor(async () => {
      const e = await errorText(page);
      if (e) throw new Error(`#error says: ${e}`);
      const a = await lastAssistant(page);
      return a && a.count > before && a.text ? a : null;
    }, 'the first text of the answer', { timeout: 60_000, interval: 20 });
    expect(!first.done, 'the answer was complete before #stop could be pressed (the slow model should generate for a long time)');
    // The main thread must answer while the worker generates.
    let worst = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      await within(5_000, page.evaluate(() => 1 + 1), 'a trivial page.evaluate during generation');
      worst = Math.max(worst, Date.now() - t0);
      await sleep(50);
    }
    expect(worst < 1000, `a trivial page.evaluate took ${worst} ms during generation (expected < 1000)`);
    const growing = await lastAssistant(page);
    expect(!growing.done, 'the answer finished on its own before #stop');
    const t0 = Date.now();
    await page.click('#stop', { timeout: 5_000 });
    const end = await waitFor(async () => {
      const a = await lastAssistant(page);
      return a.done && (await sendEnabled(page)) ? a : null;
    }, 'data-done="true" and an enabled #send after #stop', { timeout: 5_000, interval: 50 });
    const stopMs = Date.now() - t0;
    const stats = await page.evaluate(() => window.wickModel?.stats ?? null);
    expect(stats?.stop === 'cancelled', `wickModel.stats.stop is ${show(stats?.stop)}, expected "cancelled"; stats ${show(stats)}`);
    // And the model still works.
    const again = await chatTurn(page, 'Hello', 8, 60_000);
    expect(again.text.length > 0, 'the turn after an abort is done but empty');
    return `stopped after ${end.text.length} chars in ${stopMs} ms; evaluate worst ${worst} ms; next turn ok`;
  }, page);
  await page.close();
}

// ------------------------------------------------------------------ corrupt model + sha256
{
  const page = await browser.newPage();
  await step('corrupt model: #error explains within 20 s, page responsive', async () => {
    await page.goto(`${server.url}/?mode=browser&model=/models/corrupt.gguf&autoload=1`, { timeout: 30_000 });
    const e = await waitFor(() => errorText(page), 'a message in #error', { timeout: 20_000, interval: 100 });
    const t0 = Date.now();
    await within(2_000, page.evaluate(() => 1 + 1), 'a trivial page.evaluate after the error');
    const loaded = await page.evaluate(() => !!window.wickModel);
    expect(!loaded, 'window.wickModel is set although the model is corrupt');
    return `#error: ${show(e)} (evaluate ${Date.now() - t0} ms)`;
  }, page);
  await step('Wick.load sha256: a wrong digest is rejected, the right one accepted', async () => {
    const digest = crypto.createHash('sha256').update(stories).digest('hex');
    const r = await within(120_000, page.evaluate(async (digest) => {
      const { Wick } = await import('/wick.js');
      let wrong = null;
      try {
        const m = await Wick.load('/models/stories260K.gguf', { sha256: '0'.repeat(64) });
        await m.unload();
      } catch (err) {
        wrong = String(err?.message ?? err);
      }
      const m = await Wick.load('/models/stories260K.gguf', { sha256: digest });
      const name = m.info.name;
      await m.unload();
      return { wrong, name };
    }, digest), 'Wick.load with sha256');
    expect(r.wrong, 'Wick.load with a wrong sha256 resolved; it must reject');
    return `wrong digest: ${show(r.wrong)}; right digest loaded ${show(r.name)}`;
  }, page);
  await page.close();
}

if (server.notFound.length) console.log(`note: 404s: ${[...new Set(server.notFound)].join(' ')}`);
await browser.close();
await server.close();
finish();
