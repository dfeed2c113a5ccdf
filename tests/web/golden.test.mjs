// Test 1: the wasm engine in a real browser computes what the native engine and the reference
// (the golden files) compute. For each golden prompt of stories260K, greedy generation of 16
// tokens through the page's model (window.wickModel, loaded by ?autoload=1) must give the token
// ids of `wick logits --greedy 16` and the golden file's first 16 greedy ids, and tokenize()
// must give the golden prompt tokens. Run twice: on a cross-origin isolated page (threaded
// engine) and on a plain one (single-thread engine); Wick.load with threads: 2 is checked on both
// (isolated: the threaded engine, from Cache Storage; plain: falls back to the single-thread one).
import fs from 'node:fs';
import path from 'node:path';
import { env, expect, finish, launchBrowser, modelPath, runWick, show, startStaticServer, step, waitForModel, within } from './lib.mjs';

const MODEL = 'stories260K.gguf';
const N_GREEDY = 16;
const promptsDir = path.join(env.shared, 'golden', 'prompts');
const cases = fs.readdirSync(promptsDir).filter((f) => f.endsWith('.txt')).sort().map((f) => {
  const name = f.slice(0, -4);
  return {
    name,
    file: path.join(promptsDir, f),
    prompt: fs.readFileSync(path.join(promptsDir, f), 'utf8'),
    golden: JSON.parse(fs.readFileSync(path.join(env.shared, 'golden', 'stories260K', `${name}.json`), 'utf8')),
  };
});

// "" when equal; else where the first difference is, with both lists.
function diffIds(what, got, want) {
  if (show(got) === show(want)) return '';
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  return `${what}: differ at index ${i} (browser ${got[i]}, expected ${want[i]}); browser ${show(got)}, expected ${show(want)}`;
}

// Greedy generation and tokenization inside the page.
async function generateInPage(page, prompt, handle = 'window.wickModel') {
  return within(60_000, page.evaluate(async ({ prompt, n, handle }) => {
    const m = handle === 'window.wickModel' ? window.wickModel : window.__wickTestModel;
    let text = '';
    let pieces = 0;
    for await (const piece of m.generate(prompt, { temperature: 0, maxTokens: n })) {
      text += typeof piece === 'string' ? piece : piece?.text ?? '';
      pieces++;
    }
    const stats = m.stats;
    const tokens = await m.tokenize(prompt);
    return { text, pieces, stats, tokens };
  }, { prompt, n: N_GREEDY, handle }), 'generating 16 tokens in the page');
}

function checkCase(c, native, r) {
  const problems = [];
  const gold16 = c.golden.greedy.slice(0, N_GREEDY);
  const got = r.stats?.tokens;
  if (!Array.isArray(got)) return `m.stats.tokens is not an array: m.stats = ${show(r.stats)}`;
  problems.push(diffIds('greedy ids vs native wick logits', got, native.greedy.slice(0, N_GREEDY)));
  problems.push(diffIds('greedy ids vs golden', got.slice(0, gold16.length), gold16));
  if (got.length > N_GREEDY) problems.push(`generated ${got.length} tokens with maxTokens ${N_GREEDY}`);
  problems.push(diffIds('tokenize(prompt) vs golden prompt_tokens', r.tokens, c.golden.prompt_tokens));
  if (r.stats.promptTokens !== c.golden.prompt_tokens.length) {
    problems.push(`stats.promptTokens ${r.stats.promptTokens}, expected ${c.golden.prompt_tokens.length}`);
  }
  if (r.stats.generatedTokens !== got.length) {
    problems.push(`stats.generatedTokens ${r.stats.generatedTokens} but stats.tokens has ${got.length} ids`);
  }
  // The engine's Detokenizer drops the SentencePiece space of a reply's first piece (`wick run`
  // prints the same); `wick logits` keeps it.
  const want = native.greedy_text;
  if (r.text !== want && r.text !== want.replace(/^ /, '')) problems.push(`text ${show(r.text)}, native greedy_text ${show(want)}`);
  return problems.filter(Boolean).join('; ');
}

if (!cases.length) {
  console.log(`FAIL no golden prompts in ${promptsDir}`);
  process.exit(1);
}
const native = {};
await step('native wick logits for every golden prompt', async () => {
  for (const c of cases) {
    native[c.name] = JSON.parse(await runWick(['logits', '-m', modelPath(MODEL), '-f', c.file, '--greedy', String(N_GREEDY)]));
    expect(show(native[c.name].prompt_tokens) === show(c.golden.prompt_tokens),
      `${c.name}: native prompt tokens ${show(native[c.name].prompt_tokens)} != golden ${show(c.golden.prompt_tokens)}`);
  }
  return `${cases.length} prompts: ${cases.map((c) => c.name).join(', ')}`;
});

const browser = await launchBrowser();
for (const isolated of [true, false]) {
  const label = isolated ? 'isolated' : 'not isolated';
  const server = await startStaticServer({ isolated });
  const page = await browser.newPage();
  let loaded = false;
  try {
    loaded = await step(`autoload ${MODEL} (${label})`, async () => {
      await page.goto(`${server.url}/?mode=browser&model=/models/${MODEL}&autoload=1`, { timeout: 30_000 });
      await waitForModel(page, 120_000);
      const s = await page.evaluate(() => ({ info: window.wickModel.info, coi: self.crossOriginIsolated, cores: navigator.hardwareConcurrency }));
      expect(s.coi === isolated, `self.crossOriginIsolated is ${s.coi}, expected ${isolated}`);
      expect(s.info && s.info.isolated === isolated, `info.isolated is ${s.info?.isolated}, expected ${isolated}`);
      expect(s.info.n_vocab === 512, `info.n_vocab ${s.info.n_vocab}, expected 512`);
      const wantEngine = isolated && s.cores > 1 ? 'mt' : 'st';
      expect(s.info.engine === wantEngine,
        `info.engine ${show(s.info.engine)} with ${s.cores} cores, expected ${show(wantEngine)}; info ${show(s.info)}`);
      if (!isolated) expect(s.info.threads === 1, `info.threads ${s.info.threads} on a page that is not isolated, expected 1`);
      return `engine ${s.info.engine}, threads ${s.info.threads}, simd ${s.info.simd}`;
    }, page);
    if (loaded) {
      await step(`generate() of one prompt twice gives the same tokens (${label})`, async () => {
        const a = (await generateInPage(page, cases[0].prompt)).stats.tokens;
        const b = (await generateInPage(page, cases[0].prompt)).stats.tokens;
        expect(show(a) === show(b), `first ${show(a)}, second ${show(b)}: the second generation ` +
          'depends on the first (without reusePrefix each generate() must start from an empty context)');
      }, page);
    }
    for (const c of loaded ? cases : []) {
      await step(`golden ${c.name} (${label})`, async () => {
        const r = await generateInPage(page, c.prompt);
        const problems = checkCase(c, native[c.name], r);
        expect(!problems, problems);
        return `${r.stats.tokens.length} tokens equal to native and golden, ${r.pieces} pieces`;
      }, page);
    }
    await step(`Wick.load threads 2 (${label})`, async () => {
      const r = await within(120_000, page.evaluate(async (url) => {
        const { Wick } = await import('/wick.js');
        const phases = new Set();
        const m = await Wick.load(url, { threads: 2, onProgress: (p) => phases.add(p.phase) });
        window.__wickTestModel = m;
        return { info: m.info, phases: [...phases], isolated: Wick.isolated };
      }, `/models/${MODEL}`), 'Wick.load');
      expect(r.isolated === isolated, `Wick.isolated ${r.isolated}, expected ${isolated}`);
      const wantEngine = isolated ? 'mt' : 'st';
      expect(r.info.engine === wantEngine, `info.engine ${show(r.info.engine)}, expected ${wantEngine}; info ${show(r.info)}`);
      if (isolated) expect(r.info.threads === 2, `info.threads ${r.info.threads}, expected 2`);
      // The autoload of this origin downloaded the model: this load must come from Cache Storage.
      if (loaded) {
        expect(r.phases.includes('cache') && !r.phases.includes('download'),
          `onProgress phases ${show(r.phases)}: expected 'cache' and no 'download' for a model this origin already downloaded`);
      }
      const c = cases[0];
      const g = await generateInPage(page, c.prompt, '__wickTestModel');
      const problems = checkCase(c, native[c.name], g);
      expect(!problems, `${c.name}: ${problems}`);
      await within(30_000, page.evaluate(() => window.__wickTestModel.unload()), 'unload()');
      return `engine ${r.info.engine}, threads ${r.info.threads}, phases ${r.phases.join('/')}`;
    }, page);
    if (server.notFound.length) console.log(`  note: 404s: ${[...new Set(server.notFound)].join(' ')}`);
  } finally {
    await page.close().catch(() => {});
    await server.close();
  }
}
await browser.close();
finish();
