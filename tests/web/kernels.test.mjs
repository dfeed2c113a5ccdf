// The wasm engine's kernels against the reference, in a real browser: for every model with
// golden files (every quant type: F16, BF16, Q2_K…Q8_0, the legacy formats) and every golden
// prompt, the logits of the prompt's last position (m.logits) must match the golden ones within
// the golden tolerances (shared/golden/README.md): each of the reference's top-10 tokens within
// 0.10 (0.25 for weights of 5 bits or fewer), and the same argmax wherever the reference's top-1
// leads its top-2 by more than 0.1. Run with the single-thread engine (page not isolated) and the
// threaded one (isolated, 2 threads), which split the matmuls differently, each as the Relaxed
// SIMD module and the SIMD128 one.
import fs from 'node:fs';
import path from 'node:path';
import { env, expect, finish, launchBrowser, show, startStaticServer, step, within } from './lib.mjs';

const goldenDir = path.join(env.shared, 'golden');
const prompts = fs.readdirSync(path.join(goldenDir, 'prompts')).filter((f) => f.endsWith('.txt')).sort()
  .map((f) => ({ name: f.slice(0, -4), text: fs.readFileSync(path.join(goldenDir, 'prompts', f), 'utf8') }));
const readJson = (file) => JSON.parse(fs.readFileSync(file).toString('utf8'));
const models = fs.readdirSync(goldenDir, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'prompts')
  .map((d) => d.name).sort().flatMap((name) => {
    const cases = prompts.filter((p) => fs.existsSync(path.join(goldenDir, name, `${p.name}.json`)))
      .map((p) => ({ ...p, golden: readJson(path.join(goldenDir, name, `${p.name}.json`)) }));
    if (!cases.length) return [];
    // "models/synthetic/tiny2-q4_0.gguf": served under /models/.
    const url = '/' + cases[0].golden.model.replace(/^models\//, 'models/');
    const lowBit = /q[2-5]|iq/i.test(name);
    return [{ name, url, cases, tolerance: lowBit ? 0.25 : 0.10 }];
  });

// Problems with one prompt's browser logits against its golden file, or ''.
function compare(c, r, tolerance) {
  const problems = [];
  if (show(r.tokens) !== show(c.golden.prompt_tokens)) {
    problems.push(`prompt tokens ${show(r.tokens)}, golden ${show(c.golden.prompt_tokens)}`);
  }
  const logit = new Map(r.top.map(([id, v]) => [id, v]));
  const ref = c.golden.positions.at(-1).top;
  let worst = 0;
  for (const [id, want] of ref) {
    const got = logit.get(id);
    if (got === undefined) {
      problems.push(`token ${id} missing from the browser's logits`);
      continue;
    }
    worst = Math.max(worst, Math.abs(got - want));
    if (!(Math.abs(got - want) <= tolerance)) problems.push(`token ${id}: logit ${got.toFixed(4)}, golden ${want}`);
  }
  if (ref.length > 1 && ref[0][1] - ref[1][1] > 0.1 && r.top[0][0] !== ref[0][0]) {
    problems.push(`argmax ${r.top[0][0]}, golden ${ref[0][0]} (leading by ${(ref[0][1] - ref[1][1]).toFixed(3)})`);
  }
  return { problems: problems.join('; '), worst };
}

if (!models.length) {
  console.log(`FAIL no golden models in ${goldenDir}`);
  process.exit(1);
}
const browser = await launchBrowser();
// Chromium has Relaxed SIMD, so Wick.load picks the *.relaxed.wasm engines; the SIMD128 ones,
// for browsers without it, are asked for with relaxedSimd: false.
const configs = [
  { isolated: false, relaxedSimd: true },
  { isolated: true, relaxedSimd: true },
  { isolated: false, relaxedSimd: false },
  { isolated: true, relaxedSimd: false },
];
// The Relaxed SIMD kernels compute the same integer sums and float steps as the SIMD128 ones, so
// both modules must give bit-identical logits: the relaxed run's, by engine and model.
const relaxedOut = new Map();
for (const { isolated, relaxedSimd } of configs) {
  const label = `${isolated ? 'threaded engine, 2 threads' : 'single-thread engine'}, ` +
    `${relaxedSimd ? 'Relaxed SIMD' : 'SIMD128'}`;
  const server = await startStaticServer({ isolated });
  const page = await browser.newPage();
  try {
    await page.goto(`${server.url}/index.html?mode=browser`, { timeout: 30_000 });
    for (const m of models) {
      await step(`logits of ${m.name} vs golden (${label})`, async () => {
        const results = await within(120_000, page.evaluate(async ({ url, texts, relaxedSimd }) => {
          const { Wick } = await import('/wick.js');
          const model = await Wick.load(url, { threads: 2, cache: false, relaxedSimd });
          try {
            const out = [];
            for (const text of texts) out.push(await model.logits(text, { top: model.info.n_vocab }));
            return { info: model.info, out };
          } finally {
            await model.unload();
          }
        }, { url: m.url, texts: m.cases.map((c) => c.text), relaxedSimd }), `logits of ${m.name}`);
        expect(results.info.engine === (isolated ? 'mt' : 'st'), `engine ${results.info.engine}`);
        expect(results.info.simd === (relaxedSimd ? 'WASM+relaxed' : 'WASM'), `simd ${results.info.simd}`);
        let worst = 0;
        const problems = [];
        m.cases.forEach((c, i) => {
          const r = compare(c, results.out[i], m.tolerance);
          worst = Math.max(worst, r.worst);
          if (r.problems) problems.push(`${c.name}: ${r.problems}`);
        });
        expect(!problems.length, problems.join(' | '));
        const key = `${isolated}/${m.name}`;
        if (relaxedSimd) {
          relaxedOut.set(key, results.out);
        } else if (relaxedOut.has(key)) {
          const differ = m.cases.filter((c, i) => show(results.out[i].top) !== show(relaxedOut.get(key)[i].top));
          expect(!differ.length, `SIMD128 logits differ from Relaxed SIMD's for ${differ.map((c) => c.name).join(', ')}`);
        }
        return `${m.cases.length} prompts, largest difference ${worst.toFixed(4)} (tolerance ${m.tolerance}), simd ${results.info.simd}`;
      }, page);
    }
  } finally {
    await page.close().catch(() => {});
    await server.close();
  }
}
await browser.close();
finish();
