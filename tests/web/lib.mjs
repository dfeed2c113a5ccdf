// Shared pieces of the browser tests: the environment run-web-tests.sh sets, headless Chromium
// through playwright-core, a small static server that lays out the page, the engine and the
// models the way `wick serve` does, `wick serve` itself, waits with clear timeouts, and PASS/FAIL
// reporting.
import { chromium } from 'playwright-core';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export const env = {
  wick: process.env.WICK_BINARY,
  source: process.env.WICK_SOURCE_DIR,
  shared: process.env.WICK_SHARED,
  wasmDir: process.env.WICK_WASM_DIR,
  artifacts: process.env.WICK_WEB_ARTIFACTS,
};
for (const [k, v] of Object.entries(env)) {
  if (!v) {
    console.error(`lib.mjs: ${k} is not set; run the tests through tests/web/run-web-tests.sh`);
    process.exit(2);
  }
}
export const modelPath = (name) => path.join(env.shared, 'models', name);

// ---------------------------------------------------------------- reporting
export class CheckFailed extends Error {}
export function expect(cond, what) {
  if (!cond) throw new CheckFailed(what);
}
export const show = (v) => JSON.stringify(v);

let failures = 0;
// Runs one named check; prints PASS or FAIL with the reason (and, for a page, its recent console
// errors and a screenshot in the artifacts folder).
export async function step(name, fn, page = null) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    console.log(`PASS ${name}${detail ? ': ' + detail : ''} (${Date.now() - t0} ms)`);
    return true;
  } catch (err) {
    failures++;
    const msg = err instanceof CheckFailed ? err.message : err?.stack ?? String(err);
    console.log(`FAIL ${name}: ${msg}`);
    if (page) {
      const logs = page.wickLog ?? [];
      if (logs.length) console.log(`  page console (last ${logs.length}):\n    ${logs.join('\n    ')}`);
      const shot = path.join(env.artifacts, `fail-${name.replace(/[^A-Za-z0-9_-]+/g, '_')}.png`);
      try {
        fs.mkdirSync(env.artifacts, { recursive: true });
        await page.screenshot({ path: shot, fullPage: true, timeout: 10_000 });
        console.log(`  screenshot: ${shot}`);
      } catch { /* a closed or hung page has no screenshot */ }
    }
    return false;
  }
}
export function finish() {
  console.log(failures ? `${failures} check(s) FAILED` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}

// ---------------------------------------------------------------- waiting
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; throws "timed out after N ms waiting for WHAT
// (last: ...)" otherwise.
export async function waitFor(fn, what, { timeout = 30_000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new CheckFailed(`timed out after ${timeout} ms waiting for ${what} (last: ${show(last)})`);
    await sleep(interval);
  }
}

// Rejects when a promise takes longer than ms (a hung page must fail the check, not the run).
export function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const errorText = (page) => page.evaluate(() => document.querySelector('#error')?.textContent.trim() ?? '');

// The last assistant message: {count of them, text (of its .text part when it has one, so a
// status line beside the answer does not count), done (data-done="true")}, or null.
export const lastAssistant = (page) => page.evaluate(() => {
  const all = document.querySelectorAll('#messages .message.assistant');
  const m = all[all.length - 1];
  if (!m) return null;
  const text = (m.querySelector('.text') ?? m).textContent.trim();
  return { count: all.length, text, done: m.getAttribute('data-done') === 'true' };
});
export const sendEnabled = (page) => page.evaluate(() => {
  const b = document.querySelector('#send');
  return !!b && !b.disabled && b.getAttribute('aria-disabled') !== 'true';
});

// Waits for the page to set window.wickModel; fails early with the page's #error text.
export async function waitForModel(page, timeout = 120_000) {
  await waitFor(async () => {
    const s = await page.evaluate(() => ({
      loaded: !!window.wickModel,
      error: document.querySelector('#error')?.textContent.trim() ?? '',
    }));
    if (!s.loaded && s.error) throw new CheckFailed(`the page reported an error while loading: ${s.error}`);
    return s.loaded;
  }, 'window.wickModel', { timeout, interval: 200 });
}

// ---------------------------------------------------------------- browser
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

// Headless Chromium with a fresh profile; newPage() keeps the page's last console errors and
// warnings in page.wickLog (shown when a check fails).
export async function launchBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wick-web-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, timeout: 60_000,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      page.wickLog = [];
      const keep = (line) => { page.wickLog.push(line.slice(0, 500)); if (page.wickLog.length > 20) page.wickLog.shift(); };
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') keep(`${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => keep(`pageerror: ${e.message}`));
      page.on('crash', () => keep('the page crashed'));
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- static server
const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.gguf': 'application/octet-stream',
};

// Serves SOURCE/web at /, the engine dir at /wasm/, the shared models at /models/, and `extra`
// ({'/models/x.gguf': Buffer from memory, or a file path}). isolated: send COOP/COEP/CORP like `wick serve`.
// Returns {url, close, notFound: [paths answered 404]}.
export async function startStaticServer({ isolated, wasmDir = env.wasmDir, extra = {} }) {
  const mounts = [['/wasm/', wasmDir], ['/models/', path.join(env.shared, 'models')], ['/', path.join(env.source, 'web')]];
  const notFound = [];
  const server = http.createServer((req, res) => {
    const headers = { 'Cache-Control': 'no-store' };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    const send = (status, body, type) => {
      res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return send(400, Buffer.from('bad path'), 'text/plain');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, Buffer.from('method'), 'text/plain');
    const x = extra[urlPath];
    if (Buffer.isBuffer(x)) return send(200, x, MIME[path.extname(urlPath)] ?? 'application/octet-stream');
    let file = typeof x === 'string' ? x : null;
    if (!file) {
      if (urlPath === '/') urlPath = '/index.html';
      const [prefix, dir] = mounts.find(([m]) => urlPath.startsWith(m));
      const f = path.join(dir, urlPath.slice(prefix.length));
      if (f.startsWith(dir + path.sep)) file = f;
    }
    if (file && fs.existsSync(file) && fs.statSync(file).isFile()) {
      const type = MIME[path.extname(file)] ?? 'application/octet-stream';
      res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': fs.statSync(file).size });
      if (req.method === 'HEAD') return res.end();
      return fs.createReadStream(file).pipe(res);
    }
    notFound.push(urlPath);
    send(404, Buffer.from('not found'), 'text/plain');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    notFound,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

// ---------------------------------------------------------------- wick
// Runs `wick ARGS...`; resolves with stdout, rejects with its stderr.
export function runWick(args, { timeout = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(env.wick, args, { timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new CheckFailed(`wick ${args.join(' ')} failed (${err.code ?? err.signal}): ${stderr.trim().slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

// Starts `wick serve ARGS --port 0` and reads the port from its "listening on" line once it has
// printed "ready:". Returns {url, port, stop(), log()}; stop() rejects when it did not exit cleanly.
export async function startServe(args, { timeout = 60_000 } = {}) {
  const child = spawn(env.wick, ['serve', ...args, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let exited = null;
  child.stderr.on('data', (d) => { log += d; });
  const done = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  const end = Date.now() + timeout;
  while (!log.includes('ready:')) {
    if (exited) throw new CheckFailed(`wick serve ${args.join(' ')} exited (${show(exited)}) before ready:\n${log}`);
    if (Date.now() > end) {
      child.kill();
      throw new CheckFailed(`wick serve did not print ready: within ${timeout} ms:\n${log}`);
    }
    await sleep(50);
  }
  const port = Number(/listening on http:\/\/[^:\s]*:(\d+)/.exec(log)?.[1]);
  if (!port) {
    child.kill();
    throw new CheckFailed(`no "listening on http://HOST:PORT" line from wick serve:\n${log}`);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const r = await within(15_000, done, 'wick serve shutting down on SIGTERM');
      if (r.code !== 0) throw new CheckFailed(`wick serve exited with ${show(r)}:\n${log.slice(-3000)}`);
    },
  };
}
