// Test 7 (run by hand, not pass/fail): speed of the wasm engine in headless Chromium against the
// native engine, as markdown table rows.
//
//   node tests/web/bench.mjs --model PATH|URL [--threads 1,2] [--np 128] [--ng 64]
//        [--engine-dir DIR]... [--wick BINARY] [--native-model PATH]
//
// For each engine dir (default build/wasm; e.g. add build/wasm-nosimd), with and without Relaxed
// SIMD where the dir has its engines, and each thread count, an isolated page loads the model with
// Wick.load({threads, relaxedSimd}) and runs m.bench({nPrompt, nGen}) (after
// a short warm-up); `wick bench -m MODEL -p NP -n NG -t T --json` gives the native numbers.
// A model PATH is served at /models/<name>; a URL is loaded as it is (it must allow CORS and
// CORP), and then the native run needs --native-model.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = { threads: null, np: 128, ng: 64, engineDirs: [], model: null, wick: null, nativeModel: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = () => {
    if (i + 1 >= argv.length) usage(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--model') args.model = v();
  else if (a === '--threads') args.threads = v().split(',').map(Number);
  else if (a === '--np') args.np = Number(v());
  else if (a === '--ng') args.ng = Number(v());
  else if (a === '--engine-dir') args.engineDirs.push(path.resolve(v()));
  else if (a === '--wick') args.wick = path.resolve(v());
  else if (a === '--native-model') args.nativeModel = path.resolve(v());
  else usage(`unknown argument ${a}`);
}
function usage(msg) {
  console.error(`bench.mjs: ${msg}\nusage: node bench.mjs --model PATH|URL [--threads 1,2] [--np 128] [--ng 64] ` +
    '[--engine-dir DIR]... [--wick BINARY] [--native-model PATH]');
  process.exit(2);
}
if (!args.model) usage('--model is required');
const isUrl = /^https?:\/\//.test(args.model);
const modelFile = isUrl ? null : path.resolve(args.model);
if (modelFile && !fs.existsSync(modelFile)) usage(`${modelFile} not found`);
args.threads ??= [...new Set([1, os.availableParallelism?.() ?? os.cpus().length])];
if (!args.engineDirs.length) args.engineDirs.push(process.env.WICK_WASM_DIR ?? path.join(root, 'build', 'wasm'));

// lib.mjs reads these at import.
process.env.WICK_BINARY ??= args.wick ?? path.join(root, 'build', 'release', 'wick');
if (args.wick) process.env.WICK_BINARY = args.wick;
process.env.WICK_SOURCE_DIR ??= root;
process.env.WICK_SHARED ??= path.join(root, '..', 'shared');
process.env.WICK_WASM_DIR ??= args.engineDirs[0];
process.env.WICK_WEB_ARTIFACTS ??= path.join(root, 'build', 'web-test');
const { env, launchBrowser, runWick, startStaticServer, within } = await import('./lib.mjs');

function nativeSimd() {
  try {
    const flags = fs.readFileSync('/proc/cpuinfo', 'utf8');
    if (/\bavx512f\b/.test(flags)) return 'AVX-512 (cpu)';
    if (/\bavx2\b/.test(flags)) return 'AVX2 (cpu)';
    if (/\basimd\b/.test(flags)) return 'NEON (cpu)';
  } catch { /* not Linux */ }
  return '?';
}

async function nativeBench(t) {
  const model = args.nativeModel ?? modelFile;
  if (!model) return null;
  const out = JSON.parse(await runWick(['bench', '-m', model, '-p', String(args.np), '-n', String(args.ng),
    '-t', String(t), '--json'], { timeout: 600_000 }));
  return {
    pp: out.find((r) => r.n_prompt > 0)?.avg_ts ?? NaN,
    tg: out.find((r) => r.n_gen > 0)?.avg_ts ?? NaN,
  };
}

const modelUrl = isUrl ? args.model : `/models/${path.basename(modelFile)}`;
const extra = { '/bench.html': Buffer.from('<!doctype html><meta charset="utf-8"><title>wick bench</title>') };
if (modelFile) extra[modelUrl] = modelFile;

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 1) : '-');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '-');
console.log(`model ${args.model}, pp ${args.np} tokens, tg ${args.ng} tokens; browser: headless Chromium, isolated page`);
console.log('| backend | SIMD | threads | pp t/s | tg t/s | browser/native pp | browser/native tg |');
console.log('|---|---|---:|---:|---:|---:|---:|');

const native = {};
for (const t of args.threads) {
  try {
    native[t] = await nativeBench(t);
  } catch (err) {
    console.error(`native bench, ${t} threads: ${err.message}`);
  }
  if (native[t]) console.log(`| native | ${nativeSimd()} | ${t} | ${fmt(native[t].pp)} | ${fmt(native[t].tg)} | | |`);
}

const browser = await launchBrowser();
let failed = false;
for (const dir of args.engineDirs) {
  const server = await startStaticServer({ isolated: true, wasmDir: dir, extra });
  // Relaxed SIMD's engines where the dir has them (scripts/wasm-relax), and the plain SIMD128 ones.
  const relaxedVariants = fs.existsSync(path.join(dir, 'wick-st.relaxed.wasm')) ? [true, false] : [false];
  for (const relaxedSimd of relaxedVariants) for (const t of args.threads) {
    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/bench.html`);
      const r = await within(600_000, page.evaluate(async ({ url, t, np, ng, relaxedSimd }) => {
        const { Wick } = await import('/wick.js');
        const m = await Wick.load(url, { threads: t, cache: false, relaxedSimd });
        await m.bench({ nPrompt: Math.min(np, 16), nGen: Math.min(ng, 8) }); // warm-up
        const b = await m.bench({ nPrompt: np, nGen: ng });
        const info = m.info;
        await m.unload();
        return { b, info };
      }, { url: modelUrl, t, np: args.np, ng: args.ng, relaxedSimd }), `browser bench (${dir}, ${t} threads)`);
      const n = native[t];
      const label = `wasm ${r.info.engine ?? ''} (${path.relative(env.source, dir) || dir})`;
      console.log(`| ${label} | ${r.info.simd} | ${r.b.threads ?? r.info.threads} | ${fmt(r.b.pp_tps)} | ${fmt(r.b.tg_tps)} | ` +
        `${ratio(r.b.pp_tps, n?.pp)} | ${ratio(r.b.tg_tps, n?.tg)} |`);
    } catch (err) {
      failed = true;
      console.error(`browser bench, ${dir}, ${t} threads: ${err.message}`);
      for (const line of page.wickLog ?? []) console.error(`  ${line}`);
    } finally {
      await page.close();
    }
  }
  await server.close();
}
await browser.close();
process.exit(failed ? 1 : 0);
