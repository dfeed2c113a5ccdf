// Test 8: the matmul's WebAssembly kernels on their own (tests/wasm/matmul_test.cpp, built by
// scripts/build-wasm into build/wasm-test), in a real browser, once as the Relaxed SIMD module
// and once as the SIMD128 one: for every weight type, a prompt's results bit-identical to one
// token at a time and close to the scalar oracle, and the two modules' result bits the same
// (their per-type hashes).
import path from 'node:path';
import { env, expect, finish, launchBrowser, show, startStaticServer, step, waitFor } from './lib.mjs';

const testDir = process.env.WICK_WASM_TEST_DIR ?? path.join(env.source, 'build', 'wasm-test');
const modules = [
  { file: 'wick-matmul-test.relaxed.wasm', relaxed: 1 },
  { file: 'wick-matmul-test.wasm', relaxed: 0 },
];

const browser = await launchBrowser();
const server = await startStaticServer({ isolated: false, wasmDir: testDir, extra: {
  // ?wasm=FILE picks the module; the lines it prints are collected in window.lines.
  '/matmul.html': Buffer.from(`<!doctype html><script src="/wasm/wick-matmul-test.js"></script><script>
    window.lines = [];
    const wasm = new URLSearchParams(location.search).get('wasm');
    createMatmulTest({ locateFile: () => '/wasm/' + wasm, print: (t) => lines.push(t),
      printErr: (t) => lines.push('stderr ' + t) }).catch((e) => lines.push('error ' + e));
  </script>`),
} });
const hashes = {};
for (const m of modules) {
  const page = await browser.newPage();
  await step(`matmul kernels, ${m.file}`, async () => {
    await page.goto(`${server.url}/matmul.html?wasm=${m.file}`, { timeout: 30_000 });
    const lines = await waitFor(() => page.evaluate(() =>
      window.lines.some((l) => /^(done|error) /.test(l)) && window.lines), 'the test module\'s "done" line',
    { timeout: 300_000, interval: 250 });
    const fails = lines.filter((l) => !/^(simd|relaxed|hash|done) /.test(l));
    expect(!fails.length, fails.slice(0, 8).join('\n  '));
    const relaxed = lines.find((l) => l.startsWith('relaxed '));
    expect(relaxed === `relaxed ${m.relaxed}`, `${show(relaxed)}, expected "relaxed ${m.relaxed}"`);
    expect(lines.at(-1) === 'done 0', `last line ${show(lines.at(-1))}`);
    hashes[m.file] = lines.filter((l) => l.startsWith('hash ')).join('\n');
    expect(hashes[m.file].split('\n').length === 13, `hash lines:\n${hashes[m.file]}`);
    return `${lines.find((l) => l.startsWith('simd '))}, ${relaxed}`;
  }, page);
  await page.close();
}
await step('both modules give the same result bits', async () => {
  const [a, b] = modules.map((m) => hashes[m.file]);
  expect(a && b && a === b, `relaxed:\n${a}\nSIMD128:\n${b}`);
});
await server.close();
await browser.close();
finish();
