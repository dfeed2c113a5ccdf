// wick-worker.js: a classic Web Worker that hosts the WebAssembly engine for wick.js. It loads
// wick-st.js (or wick-mt.js when the page is cross-origin isolated and more than one thread is
// asked for), drives the engine's C API (src/wasm/wasm_api.cpp) one request at a time, and
// returns to its event loop between generated tokens so that an abort is seen within one token.
'use strict';

let mod = null;     // the Emscripten module
let api = null;     // cwrap'd engine functions
let broken = null;  // set once the engine aborted: its state can no longer be trusted
let queue = Promise.resolve();
let running = 0;                // id of the generation in progress, 0 when none
const waiting = new Set();      // ids of generations queued behind another request
const earlyAborts = new Set();  // those of them aborted before they started

function post(msg) { self.postMessage(msg); }

function errorMessage(e) { return (e && e.message) || String(e); }

// Emscripten's abort() throws a RuntimeError and leaves the module unusable.
function noteEngineFailure(e) {
  if (e instanceof WebAssembly.RuntimeError && !broken) {
    broken = `the WebAssembly engine stopped: ${errorMessage(e)}`;
  }
}

// Yields to the event loop. A MessageChannel task runs at once, where setTimeout would be
// clamped to several milliseconds per token.
const yieldChannel = new MessageChannel();
const yieldWaiters = [];
yieldChannel.port1.onmessage = () => yieldWaiters.shift()();
function yieldToEventLoop() {
  return new Promise((resolve) => {
    yieldWaiters.push(resolve);
    yieldChannel.port2.postMessage(null);
  });
}

// --- engine loading ---

// A one-function module whose body is i16x8.relaxed_dot_i8x16_i7x16_s: it validates where the
// browser has Relaxed SIMD, and then the *.relaxed.wasm engines (scripts/wasm-relax) can run.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,  // magic, version
  0x01, 0x07, 0x01, 0x60, 0x02, 0x7b, 0x7b, 0x01, 0x7b,  // type: (v128, v128) -> v128
  0x03, 0x02, 0x01, 0x00,  // one function of that type
  0x0a, 0x0b, 0x01, 0x09, 0x00, 0x20, 0x00, 0x20, 0x01, 0xfd, 0x92, 0x02, 0x0b,  // its code
]);

function hasRelaxedSimd() {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

function importEngine(base, file) {
  try {
    importScripts(base + file);
  } catch (e) {
    throw new Error(
        `the WebAssembly engine was not found at ${base + file} ` +
        `(build it with scripts/build-wasm): ${errorMessage(e)}`);
  }
  if (typeof createWickEngine !== 'function') {
    throw new Error(`${base + file} did not define createWickEngine`);
  }
}

// Whether `url` is served. An engine folder built without SIMD (scripts/build-wasm --no-simd)
// has no *.relaxed.wasm, and then the plain module is used.
async function isServed(url) {
  try {
    return (await fetch(url, {method: 'HEAD'})).ok;
  } catch {
    return false;
  }
}

async function startEngine(base, file, threads, relaxed) {
  let onAbort;
  const relaxedFile = file.replace(/\.js$/, '.relaxed.wasm');
  const wasmFile = relaxed && (await isServed(base + relaxedFile)) ?
      relaxedFile :
      file.replace(/\.js$/, '.wasm');
  const aborted = new Promise((_, reject) => {
    const wasm = base + wasmFile;
    onAbort = (what) => reject(new Error(
        `the WebAssembly engine at ${base + file} failed to ` +
        `start (is ${wasm} served?): ${what}`));
  });
  const ready = createWickEngine({
    locateFile: (p) => base + (p.endsWith('.wasm') ? wasmFile : p),
    mainScriptUrlOrBlob: base + file,
    // The threaded engine sizes its pthread pool from this before any C++ runs.
    wickThreads: threads,
    onAbort: (what) => {
      broken = `the WebAssembly engine stopped: ${what}`;
      onAbort(what);
    },
  });
  return Promise.race([ready, aborted]);
}

function wrap(m) {
  const fn = (name, args) => {
    if (typeof m['_' + name] !== 'function') {
      throw new Error(`the WebAssembly engine does not export ${name}`);
    }
    return m.cwrap(name, 'number', args);
  };
  return {
    load: fn('wick_load', ['number', 'number', 'number']),
    info: fn('wick_info', []),
    tokenize: fn('wick_tokenize', ['number', 'number', 'number']),
    chatPrompt: fn('wick_chat_prompt', ['number', 'number']),
    start: fn('wick_generate_start', ['number', 'number']),
    step: fn('wick_generate_step', ['number']),
    cancel: m.cwrap('wick_generate_cancel', null, []),
    logits: fn('wick_logits', ['number', 'number', 'number']),
    bench: fn('wick_bench', ['number', 'number']),
    unload: m.cwrap('wick_unload', null, []),
  };
}

// The current view of the wasm heap. Memory can grow during any call, so never keep one.
function heap(end) {
  let h = mod.HEAPU8;
  if (h.length < end && mod.wasmMemory) h = new Uint8Array(mod.wasmMemory.buffer);
  if (h.length < end) throw new Error('the WebAssembly heap view is stale');
  return h;
}

const encoder = new TextEncoder();

// Strings go through _malloc rather than ccall's stack copies, which a long prompt would overflow.
// TextEncoder cannot write into shared memory (the threaded engine), hence the copy.
function allocString(s) {
  const bytes = encoder.encode(s);
  const ptr = mod._malloc(bytes.length + 1) >>> 0;
  if (!ptr) throw new Error(`out of WebAssembly memory for a ${bytes.length}-byte string`);
  const h = heap(ptr + bytes.length + 1);
  h.set(bytes, ptr);
  h[ptr + bytes.length] = 0;
  return ptr;
}

// Calls an engine function whose string arguments are given as JS strings; returns its JSON
// reply, throwing the engine's message when it reports an error.
function call(name, f, ...args) {
  const ptrs = [];
  try {
    const cargs = args.map((a) => {
      if (typeof a !== 'string') return a;
      const p = allocString(a);
      ptrs.push(p);
      return p;
    });
    const text = mod.UTF8ToString(f(...cargs) >>> 0);
    let reply;
    try {
      reply = JSON.parse(text);
    } catch {
      throw new Error(`${name} returned invalid JSON: ${text.slice(0, 200)}`);
    }
    if (!reply.ok) throw new Error(reply.error || `${name} failed`);
    return reply;
  } finally {
    for (const p of ptrs) mod._free(p);
  }
}

function mib(n) { return `${(n / (1 << 20)).toFixed(1)} MiB`; }

// dlmalloc grows the heap with sbrk(intptr_t), so a single request of 2 GiB or more fails on a
// fresh heap although the memory could grow to 4 GiB. Growing it in steps of 1 GiB first works:
// a freed block stays at the top of the heap for the next, larger request.
function mallocLarge(size) {
  for (let step = 1 << 30; step < size; step += 1 << 30) {
    const p = mod._malloc(step) >>> 0;
    if (!p) return 0;
    mod._free(p);
  }
  return mod._malloc(size) >>> 0;
}

async function load(msg) {
  const {engineUrl, options, parts} = msg;
  const relaxed = msg.relaxedSimd !== false && hasRelaxedSimd();
  msg.parts = null;  // with `parts` emptied below, each part can go once it is in the heap
  if (mod) throw new Error('a model is already loaded in this worker');
  const size = parts.reduce((n, p) => n + p.length, 0);
  if (!size) throw new Error('the model file is empty');
  const threaded = self.crossOriginIsolated === true && options.threads > 1;
  let engine = threaded ? 'mt' : 'st';
  if (threaded) {
    try {
      importEngine(engineUrl, 'wick-mt.js');
    } catch (e) {
      console.warn(`wick: ${e.message}; using the single-thread engine`);
      engine = 'st';
    }
  }
  if (engine === 'st') importEngine(engineUrl, 'wick-st.js');
  const threads = engine === 'mt' ? options.threads : 1;
  mod = await startEngine(engineUrl, engine === 'mt' ? 'wick-mt.js' : 'wick-st.js', threads, relaxed);
  api = wrap(mod);

  let ptr = 0;
  try {
    ptr = mallocLarge(size);
  } catch (e) {
    noteEngineFailure(e);
    throw new Error(
        `the model (${mib(size)}) does not fit in WebAssembly memory: ${errorMessage(e)}`);
  }
  if (!ptr) throw new Error(`the model (${mib(size)}) does not fit in WebAssembly memory`);
  for (let off = ptr; parts.length;) {
    const part = parts.shift();
    heap(off + part.length).set(part, off);
    off += part.length;
  }
  // wick_load owns the buffer from here on, and frees it when loading fails.
  const opts = {...options, threads};
  const reply = call('wick_load', api.load, ptr, size, JSON.stringify(opts));
  return {info: reply.info, engine, threads: opts.threads};
}

// --- generation ---

async function generate(id, prompt, params) {
  call('wick_generate_start', api.start, prompt, JSON.stringify(params));
  running = id;
  try {
    if (earlyAborts.delete(id)) api.cancel();
    for (;;) {
      const r = call('wick_generate_step', api.step, 1);
      const tokens = r.tokens || [];
      if (r.text || tokens.length) post({type: 'piece', id, text: r.text || '', tokens});
      if (r.done) {
        post({type: 'done', id, stop: r.stop, stats: r.stats});
        return;
      }
      await yieldToEventLoop();
    }
  } catch (e) {
    // Leave the engine idle for the next request.
    try {
      api.cancel();
    } catch {
      // The engine is already broken; the caller reports why.
    }
    throw e;
  } finally {
    running = 0;
  }
}

async function handle(msg) {
  const {id} = msg;
  waiting.delete(id);
  try {
    if (broken) throw new Error(broken);
    if (msg.type !== 'load' && !mod) throw new Error('no model is loaded');
    let value;
    switch (msg.type) {
      case 'load':
        value = await load(msg);
        break;
      case 'tokenize': {
        const add = msg.addSpecial ? 1 : 0;
        const parse = msg.parseSpecial ? 1 : 0;
        value = {tokens: call('wick_tokenize', api.tokenize, msg.text, add, parse).tokens};
        break;
      }
      case 'generate':
        await generate(id, msg.prompt, msg.params);
        return;
      case 'chat': {
        const {prompt} = call('wick_chat_prompt', api.chatPrompt, JSON.stringify(msg.messages), 1);
        await generate(id, prompt, msg.params);
        return;
      }
      case 'logits': {
        const add = msg.addSpecial ? 1 : 0;
        const {tokens, top} = call('wick_logits', api.logits, msg.prompt, add, msg.top);
        value = {tokens, top};
        break;
      }
      case 'bench': {
        const {ok, ...rest} = call('wick_bench', api.bench, msg.nPrompt, msg.nGen);
        value = rest;
        break;
      }
      case 'unload':
        api.unload();
        mod = null;
        api = null;
        value = true;
        break;
      default:
        throw new Error(`unknown request ${msg.type}`);
    }
    post({type: 'result', id, value});
  } catch (e) {
    noteEngineFailure(e);
    post({type: 'error', id, message: errorMessage(e)});
  } finally {
    earlyAborts.delete(id);
  }
}

self.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === 'abort') {
    // Handled at once, not queued: the generation it stops is what the queue is waiting on.
    if (running === msg.id) {
      if (!broken) api.cancel();
    } else if (waiting.has(msg.id)) {
      earlyAborts.add(msg.id);
    }
    return;
  }
  if (msg.type === 'generate' || msg.type === 'chat') waiting.add(msg.id);
  queue = queue.then(() => handle(msg));
};

// Anything that escapes the handlers means the engine is in an unknown state: tell the page,
// which rejects whatever it is waiting for.
self.addEventListener('error', (e) => {
  post({type: 'fatal', message: `the engine worker failed: ${e.message || 'unknown error'}`});
});
self.addEventListener('unhandledrejection', (e) => {
  post({type: 'fatal', message: `the engine worker failed: ${errorMessage(e.reason)}`});
});
