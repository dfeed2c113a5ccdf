// wick.js: the browser JavaScript API of wick (docs/web.md). It fetches a GGUF model (with
// progress, Cache Storage reuse and an optional sha256 check), hands the bytes to a Web Worker
// (wick-worker.js) that hosts the WebAssembly engine, and streams generated text back as an
// async iterator. All engine work runs in the worker, so the page never freezes.

const CACHE_NAME = 'wick-models-v1';
const PROGRESS_INTERVAL_MS = 50;
// Chromium refuses ArrayBuffers of 2 GiB - 2 MiB and more in postMessage, crypto.subtle and
// Blob, so a model is held as parts of at most this size (all transferred, none copied).
const PART_BYTES = 3 << 29;  // 1.5 GiB
const HASH_SLICE_BYTES = 16 << 20;

// Options named as in JavaScript -> the engine's generation parameters (wick_generate_start).
const PARAM_NAMES = {
  maxTokens: 'max_tokens',
  temperature: 'temperature',
  topP: 'top_p',
  topK: 'top_k',
  minP: 'min_p',
  repeatPenalty: 'repeat_penalty',
  seed: 'seed',
  stop: 'stop',
  addSpecial: 'add_special',
  parseSpecial: 'parse_special',
  reusePrefix: 'reuse_prefix',
  ignoreEos: 'ignore_eos',
};

function toEngineParams(opts) {
  const params = {};
  for (const [js, c] of Object.entries(PARAM_NAMES)) {
    const v = opts?.[js];
    if (v === undefined || v === null) continue;
    params[c] = c === 'stop' && typeof v === 'string' ? [v] : v;
  }
  return params;
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

// SHA-256 (FIPS 180-4) for models in several parts, which crypto.subtle cannot hash in one call
// (it has no incremental interface), and for pages outside a secure context.
const SHA256_K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

class Sha256 {
  #h = new Int32Array([
    0x6a09e667,
    0xbb67ae85,
    0x3c6ef372,
    0xa54ff53a,
    0x510e527f,
    0x9b05688c,
    0x1f83d9ab,
    0x5be0cd19,
  ]);
  #w = new Int32Array(64);
  #tail = new Uint8Array(64);
  #tailLength = 0;
  #length = 0;

  update(bytes) {
    this.#length += bytes.length;
    let i = 0;
    if (this.#tailLength) {
      i = Math.min(64 - this.#tailLength, bytes.length);
      this.#tail.set(bytes.subarray(0, i), this.#tailLength);
      this.#tailLength += i;
      if (this.#tailLength < 64) return;
      this.#blocks(this.#tail, 0, 64);
      this.#tailLength = 0;
    }
    const end = i + ((bytes.length - i) & ~63);
    this.#blocks(bytes, i, end);
    this.#tail.set(bytes.subarray(end));
    this.#tailLength = bytes.length - end;
  }

  hex() {
    const bits = this.#length * 8;
    const pad = new Uint8Array(((this.#tailLength + 72) & ~63) - this.#tailLength);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    view.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(pad.length - 4, bits >>> 0);
    this.update(pad);
    return Array.from(this.#h, (x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
  }

  #blocks(p, start, end) {
    const w = this.#w;
    const h = this.#h;
    for (let o = start; o < end; o += 64) {
      for (let t = 0; t < 16; t++) {
        const j = o + 4 * t;
        w[t] = (p[j] << 24) | (p[j + 1] << 16) | (p[j + 2] << 8) | p[j + 3];
      }
      for (let t = 16; t < 64; t++) {
        const x = w[t - 15];
        const y = w[t - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
      }
      let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (let t = 0; t < 64; t++) {
        const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const t1 = (k + s1 + ((e & f) ^ (~e & g)) + SHA256_K[t] + w[t]) | 0;
        const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      h[0] += a;
      h[1] += b;
      h[2] += c;
      h[3] += d;
      h[4] += e;
      h[5] += f;
      h[6] += g;
      h[7] += k;
    }
  }
}

// Hex SHA-256 of the model's parts (Uint8Arrays).
async function sha256Hex(parts) {
  if (parts.length === 1 && globalThis.crypto?.subtle) {
    return hex(await crypto.subtle.digest('SHA-256', parts[0]));
  }
  const hash = new Sha256();
  for (const part of parts) {
    for (let i = 0; i < part.length; i += HASH_SLICE_BYTES) {
      hash.update(part.subarray(i, i + HASH_SLICE_BYTES));
      // Let the page breathe: hashing a few GiB in JavaScript takes seconds.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  return hash.hex();
}

function normalizeDigest(d) {
  const s = String(d).trim().toLowerCase().replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(s)) throw new Error(`sha256 option is not a hex SHA-256 digest: ${d}`);
  return s;
}

// Calls onProgress at most every PROGRESS_INTERVAL_MS, except for the first and last report.
function progressReporter(onProgress, phase) {
  let last = 0;
  return (loaded, total, final = false) => {
    if (!onProgress) return;
    const now = performance.now();
    if (!final && loaded !== 0 && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    try {
      onProgress({phase, loaded, total});
    } catch (e) {
      console.error('wick: onProgress threw', e);
    }
  };
}

function byteLength(parts) { return parts.reduce((n, p) => n + p.length, 0); }

// Reads a stream into parts of at most PART_BYTES. With a known size the bytes go straight into
// parts of that size, so a large model is never held twice on the page.
async function readStream(stream, total, report) {
  const reader = stream.getReader();
  const parts = [];
  let part = null;
  let used = 0;
  let loaded = 0;
  report(0, total);
  try {
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      for (let off = 0; off < value.length;) {
        if (!part || used === part.length) {
          if (part) parts.push(part);
          const size = total > loaded ? total - loaded : Math.max(1 << 20, loaded);
          part = new Uint8Array(Math.min(PART_BYTES, size));
          used = 0;
        }
        const n = Math.min(part.length - used, value.length - off);
        part.set(value.subarray(off, off + n), used);
        used += n;
        off += n;
        loaded += n;
      }
      report(loaded, total > 0 ? Math.max(total, loaded) : 0);
    }
  } catch (e) {
    reader.cancel(e).catch(() => {});
    throw e;
  }
  if (part) parts.push(part.subarray(0, used));
  report(loaded, total > 0 ? Math.max(total, loaded) : loaded, true);
  return parts;
}

// An ArrayBuffer of up to PART_BYTES is passed on as is (and transferred); larger ones and views
// into other buffers are copied into parts.
function partsOf(bytes, whole) {
  if (whole && bytes.length <= PART_BYTES) return [bytes];
  const parts = [];
  for (let i = 0; i < bytes.length; i += PART_BYTES) {
    parts.push(bytes.slice(i, i + PART_BYTES));
  }
  return parts;
}

function contentLength(response) {
  // A compressed body's Content-Length counts compressed bytes; the reader sees decoded ones.
  if (response.headers.get('Content-Encoding')) return 0;
  const n = Number(response.headers.get('Content-Length'));
  return Number.isFinite(n) && n > 0 ? n : 0;
}

async function openCache() {
  if (typeof caches === 'undefined') return null;
  try {
    return await caches.open(CACHE_NAME);
  } catch (e) {
    console.warn('wick: Cache Storage unavailable, not caching the model:', e);
    return null;
  }
}

function checkDigest(actual, expected, what) {
  if (actual !== expected) {
    throw new Error(`sha256 mismatch for ${what}: expected ${expected}, got ${actual}`);
  }
}

// URL -> ArrayBuffer, through Cache Storage when it is available and allowed.
async function fetchModel(url, {onProgress, sha256, cache: useCache = true}) {
  const cache = useCache ? await openCache() : null;
  if (cache) {
    const hit = await cache.match(url);
    if (hit) {
      const parts =
          await readStream(hit.body, contentLength(hit), progressReporter(onProgress, 'cache'));
      if (!sha256 || (await sha256Hex(parts)) === sha256) return parts;
      // A stale or damaged copy: forget it and fetch the file again; the download is checked too.
      console.warn(`wick: cached copy of ${url} failed the sha256 check; downloading it again`);
      await cache.delete(url);
    }
  }

  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`download of ${url} failed: ${e.message}`);
  }
  if (!response.ok) {
    throw new Error(`download of ${url} failed: HTTP ${response.status} ${response.statusText}`);
  }
  const total = contentLength(response);
  // The cache takes its own branch of the body, so the page holds the bytes only once.
  let body = response.body;
  let stored = null;
  if (cache) {
    const [mine, theirs] = body.tee();
    body = mine;
    const headers = {
      'Content-Type': response.headers.get('Content-Type') || 'application/octet-stream'
    };
    if (total) headers['Content-Length'] = String(total);
    stored = cache.put(url, new Response(theirs, {headers})).then(() => true, (e) => {
      console.warn(`wick: could not keep ${url} in Cache Storage:`, e);
      return false;
    });
  }
  let parts;
  try {
    try {
      parts = await readStream(body, total, progressReporter(onProgress, 'download'));
    } catch (e) {
      throw new Error(`download of ${url} failed: ${e.message}`);
    }
    if (total && byteLength(parts) !== total) {
      throw new Error(`download of ${url} was cut short: ${byteLength(parts)} of ${total} bytes`);
    }
    if (sha256) checkDigest(await sha256Hex(parts), sha256, url);
  } catch (e) {
    if (stored && (await stored)) await cache.delete(url);
    throw e;
  }
  if (stored) await stored;
  return parts;
}

async function readSource(source, opts) {
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(String(source), globalThis.location?.href).href;
    const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'model.gguf');
    return {parts: await fetchModel(url, opts), name};
  }
  let parts;
  let name = 'model.gguf';
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    if (source.name) name = source.name;
    try {
      const report = progressReporter(opts.onProgress, 'load');
      parts = await readStream(source.stream(), source.size, report);
    } catch (e) {
      throw new Error(`reading ${name} failed: ${e.message}`);
    }
  } else if (source instanceof ArrayBuffer) {
    parts = partsOf(new Uint8Array(source), true);
  } else if (ArrayBuffer.isView(source)) {
    parts = partsOf(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), false);
  } else {
    throw new Error('Wick.load: source must be a URL string, a File, a Blob or an ArrayBuffer');
  }
  if (opts.sha256) checkDigest(await sha256Hex(parts), opts.sha256, name);
  return {parts, name};
}

export class Wick {
  #worker;
  #pending = new Map();  // request id -> {resolve, reject}
  #nextId = 1;
  #gen = null;   // the running generation's state
  #dead = null;  // why the worker can no longer be used

  /** The engine's info object, plus {threads, isolated, engine: 'st' | 'mt'}. */
  info = null;
  /** Statistics of the last finished generation (null while one runs). */
  stats = null;

  /** True when the page is cross-origin isolated, so the threaded engine can run. */
  static get isolated() { return globalThis.crossOriginIsolated === true; }

  /**
   * Loads a GGUF model. source: URL string | File | Blob | ArrayBuffer (an ArrayBuffer is
   * transferred to the worker, so it is detached afterwards).
   */
  static async load(source, options = {}) {
    const opts = {...options};
    if (opts.sha256) opts.sha256 = normalizeDigest(opts.sha256);
    const isolated = Wick.isolated;
    const threads = Math.max(
        1, Math.floor(opts.threads ?? (isolated ? navigator.hardwareConcurrency || 1 : 1)));
    const engineBase = opts.engineUrl ?? new URL('./wasm/', import.meta.url);
    let engineUrl = new URL(String(engineBase), globalThis.location?.href).href;
    if (!engineUrl.endsWith('/')) engineUrl += '/';

    const {parts, name} = await readSource(source, opts);
    const size = byteLength(parts);
    if (!size) throw new Error(`the model file ${name} is empty`);
    const report = progressReporter(opts.onProgress, 'load');
    // Reading a File already reported 'load' from 0 to its size.
    if (!(typeof Blob !== 'undefined' && source instanceof Blob)) report(0, size, true);

    const m = new Wick(new Worker(new URL('./wick-worker.js', import.meta.url)));
    try {
      const options = {name: opts.name ?? name, n_ctx: opts.nCtx ?? 0, threads};
      const transfer = parts.map((p) => p.buffer);
      const r = await m.#request(
          {type: 'load', parts, engineUrl, options, relaxedSimd: opts.relaxedSimd}, transfer);
      m.info = {...r.info, threads: r.info.threads ?? r.threads, isolated, engine: r.engine};
    } catch (e) {
      m.#shutdown(e.message);
      throw e;
    }
    report(size, size, true);
    return m;
  }

  constructor(worker) {
    if (!(worker instanceof Worker)) throw new Error('use Wick.load() to create a model');
    this.#worker = worker;
    worker.onmessage = (e) => this.#onMessage(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      this.#fail(
          e.message ? `the engine worker failed: ${e.message}` :
                      'the engine worker failed to start (is wick-worker.js served?)');
    };
    worker.onmessageerror = () =>
        this.#fail('the engine worker sent a message that could not be read');
  }

  #onMessage(msg) {
    if (msg.type === 'fatal') {
      this.#fail(msg.message);
      return;
    }
    const gen = this.#gen;
    if (gen && msg.id === gen.id) {
      if (msg.type === 'piece') {
        if (msg.tokens) gen.tokens.push(...msg.tokens);
        if (msg.text) gen.queue.push(msg.text);
      } else if (msg.type === 'done') {
        this.stats = makeStats(msg.stats || {}, gen.tokens, msg.stop);
        gen.finished = true;
      } else if (msg.type === 'error') {
        gen.error = new Error(msg.message);
      }
      gen.wake?.();
      return;
    }
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (msg.type === 'error') {
      p.reject(new Error(msg.message));
    } else {
      p.resolve(msg.value);
    }
  }

  // Rejects everything outstanding: a failed worker must never leave a promise hanging.
  #fail(message) {
    if (!this.#dead) this.#dead = message;
    for (const p of this.#pending.values()) p.reject(new Error(message));
    this.#pending.clear();
    if (this.#gen && !this.#gen.finished && !this.#gen.error) {
      this.#gen.error = new Error(message);
      this.#gen.wake?.();
    }
    this.#worker?.terminate();
  }

  #shutdown(message) {
    this.#fail(message);
    this.#worker = null;
  }

  #post(msg, transfer = []) {
    if (this.#dead) throw new Error(this.#dead);
    this.#worker.postMessage(msg, transfer);
  }

  #request(msg, transfer) {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, {resolve, reject});
      try {
        this.#post({...msg, id}, transfer);
      } catch (e) {
        this.#pending.delete(id);
        reject(e);
      }
    });
  }

  /** Streams the completion of prompt as text pieces; sets m.stats when it ends. */
  async * generate(prompt, opts = {}) {
    yield* this.#generate({type: 'generate', prompt: String(prompt), params: toEngineParams(opts)});
  }

  /** Like generate, on the model's chat template; messages: [{role, content}]. */
  async * chat(messages, opts = {}) {
    const params =
        {...toEngineParams(opts), add_special: false, parse_special: true, reuse_prefix: true};
    yield* this.#generate({type: 'chat', messages, params});
  }

  async * #generate(msg) {
    if (this.#dead) throw new Error(this.#dead);
    if (this.#gen)
      throw new Error('a generation is already running; abort it or wait for it to end');
    const gen =
        {id: this.#nextId++, queue: [], tokens: [], finished: false, error: null, wake: null};
    this.#gen = gen;
    this.stats = null;
    try {
      this.#post({...msg, id: gen.id});
      for (;;) {
        if (gen.queue.length) {
          yield gen.queue.shift();
          continue;
        }
        if (gen.error) throw gen.error;
        if (gen.finished) return;
        await new Promise((resolve) => (gen.wake = resolve));
        gen.wake = null;
      }
    } finally {
      // The consumer left early (break, return, an exception): stop the engine and wait for it,
      // so the next request finds the worker idle.
      if (!gen.finished && !gen.error) {
        try {
          this.#post({type: 'abort', id: gen.id});
          while (!gen.finished && !gen.error) {
            await new Promise((resolve) => (gen.wake = resolve));
          }
        } catch {
          // The worker is gone; nothing is left to stop.
        }
      }
      this.#gen = null;
    }
  }

  /** Ends the running generation; its iterator finishes normally (stats.stop 'cancelled'). */
  abort() {
    if (this.#gen && !this.#dead) this.#worker.postMessage({type: 'abort', id: this.#gen.id});
  }

  /** Token ids of text. */
  async tokenize(text, {addSpecial = true, parseSpecial = false} = {}) {
    return (await this.#request({type: 'tokenize', text: String(text), addSpecial, parseSpecial}))
        .tokens;
  }

  /**
   * The logits of a prompt's last position from an empty context, best first, as
   * `wick logits --top` prints them: {tokens, top: [[id, logit], ...]}.
   */
  async logits(prompt, {top = 10, addSpecial = true} = {}) {
    return this.#request({type: 'logits', prompt: String(prompt), top, addSpecial});
  }

  /** Prompt-processing and decode speed, like `wick bench`. */
  async bench({nPrompt = 128, nGen = 64} = {}) {
    return this.#request({type: 'bench', nPrompt, nGen});
  }

  /** Frees the engine and ends the worker; the object cannot be used afterwards. */
  async unload() {
    if (this.#dead) {
      this.#worker = null;
      return;
    }
    this.abort();
    try {
      await this.#request({type: 'unload'});
    } finally {
      this.#shutdown('the model was unloaded');
    }
  }
}

function makeStats(s, tokens, stop) {
  const promptTokens = s.prompt_tokens ?? 0;
  const reusedTokens = s.reused_tokens ?? 0;
  const generatedTokens = s.generated_tokens ?? tokens.length;
  const promptMs = s.prompt_ms ?? 0;
  const generateMs = s.generate_ms ?? 0;
  return {
    promptTokens,
    reusedTokens,
    generatedTokens,
    tokens,
    promptMs,
    generateMs,
    promptTps: promptMs > 0 ? ((promptTokens - reusedTokens) / promptMs) * 1000 : 0,
    decodeTps: generateMs > 0 ? (generatedTokens / generateMs) * 1000 : 0,
    stop: stop ?? s.stop ?? null,
  };
}
