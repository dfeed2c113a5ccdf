// The chat page's code. Two ways to answer: "server" streams from the OpenAI-compatible API of
// the origin that served the page (fetch + SSE), "browser" runs a GGUF model in this tab through
// wick.js. The conversation is a list of messages, sent whole on every turn.
//
// Element ids and query parameters (?mode=server|browser, &model=URL, &autoload=1) are a
// contract with the browser tests, as are window.wickReady and window.wickModel.

const $ = (id) => document.getElementById(id);

const el = {
  modeServer: $('mode-server'),
  modeBrowser: $('mode-browser'),
  modelSelect: $('model-select'),
  apiKey: $('api-key'),
  modelUrl: $('model-url'),
  modelFile: $('model-file'),
  load: $('load'),
  progress: $('progress'),
  modelInfo: $('model-info'),
  engineNote: $('engine-note'),
  temperature: $('temperature'),
  topP: $('top-p'),
  maxTokens: $('max-tokens'),
  seed: $('seed'),
  systemPrompt: $('system-prompt'),
  messages: $('messages'),
  prompt: $('prompt'),
  composer: $('composer'),
  send: $('send'),
  stop: $('stop'),
  clear: $('clear'),
  status: $('status'),
  tps: $('tps'),
  error: $('error'),
};

const kApiKeyStorage = 'wick.apiKey';

const state = {
  mode: 'server',
  messages: [], // {role, content}: the conversation without the system prompt
  busy: false, // a reply is streaming
  loading: false, // an in-browser model is loading
  abort: null, // ends the running reply
  model: null, // the in-browser model (wick.js)
  wick: null, // the wick.js module's Wick class, imported on first use
  serverUp: false,
  engineBuilt: null, // whether /wasm/wick-st.js exists (null: not checked yet)
  started: false, // the checks at start are done
};

// The hint shown in an empty conversation, put back by "New chat".
const emptyHint = el.messages.querySelector('.empty').cloneNode(true);

// ---- small helpers ----

function setStatus(text) {
  el.status.textContent = text;
}

function showError(e) {
  const message = e instanceof Error ? e.message : String(e);
  el.error.textContent = message || 'unknown error';
}

function clearError() {
  el.error.textContent = '';
}

function storageGet(key) {
  try {
    return localStorage.getItem(key) || '';
  } catch {
    return ''; // storage may be off (private mode, file://)
  }
}

function storageSet(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // ignored: the key then lasts for this page only
  }
}

function formatCount(n) {
  if (!Number.isFinite(n)) return '?';
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}K`;
  return String(n);
}

function formatBytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function formatTps(tps) {
  return Number.isFinite(tps) && tps > 0 ? `${tps.toFixed(tps >= 100 ? 0 : 1)} tok/s` : '';
}

// A number input's value, or `fallback` when it is empty or not a number.
function numberValue(input, fallback) {
  const v = Number.parseFloat(input.value);
  return input.value.trim() === '' || !Number.isFinite(v) ? fallback : v;
}

function settings() {
  const seed = numberValue(el.seed, null);
  return {
    temperature: numberValue(el.temperature, 0.8),
    topP: numberValue(el.topP, 0.95),
    maxTokens: Math.max(1, Math.round(numberValue(el.maxTokens, 256))),
    seed: seed === null ? null : Math.round(seed),
  };
}

// The messages a request sends: the system prompt first, when there is one.
function requestMessages() {
  const system = el.systemPrompt.value.trim();
  return system ? [{ role: 'system', content: system }, ...state.messages] : [...state.messages];
}

// ---- the conversation view ----

function nearBottom() {
  const m = el.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 60;
}

function scrollDown(force) {
  if (force || nearBottom()) el.messages.scrollTop = el.messages.scrollHeight;
}

function addMessage(role, text) {
  el.messages.querySelector('.empty')?.remove();
  const div = document.createElement('div');
  div.className = `message ${role}`;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  div.append(body);
  if (role === 'assistant') {
    const meta = document.createElement('span');
    meta.className = 'meta';
    div.append(meta);
  }
  el.messages.append(div);
  scrollDown(true);
  return div;
}

function clearConversation() {
  if (state.busy) return;
  state.messages = [];
  el.messages.replaceChildren(emptyHint.cloneNode(true));
  el.tps.textContent = '';
  clearError();
  setStatus(readyText());
}

// ---- controls ----

function readyText() {
  if (state.mode === 'server') {
    if (!state.serverUp) return 'No server: this page was not served by wick serve';
    const id = el.modelSelect.value;
    return id ? `Ready: ${id}` : 'Ready';
  }
  if (state.model) return `Ready: ${state.model.info?.name ?? 'model'} in this tab`;
  if (state.engineBuilt === false) return 'In-browser engine not built';
  return 'Load a model to chat in this tab';
}

function updateControls() {
  const canSend =
    !state.busy &&
    !state.loading &&
    (state.mode === 'server' ? state.serverUp : state.model !== null);
  el.send.disabled = !canSend;
  el.stop.disabled = !state.busy;
  el.clear.disabled = state.busy;
  el.modeServer.disabled = state.busy || state.loading;
  el.modeBrowser.disabled = state.busy || state.loading;
  el.modelSelect.disabled = state.busy;
  el.load.disabled = state.busy || state.loading || state.engineBuilt === false;
  el.modelUrl.disabled = state.loading;
  el.modelFile.disabled = state.loading;
}

function setMode(mode) {
  state.mode = mode === 'browser' ? 'browser' : 'server';
  el.modeServer.checked = state.mode === 'server';
  el.modeBrowser.checked = state.mode === 'browser';
  document.body.classList.toggle('mode-server', state.mode === 'server');
  document.body.classList.toggle('mode-browser', state.mode === 'browser');
  updateControls();
  if (state.started && !state.busy && !state.loading) setStatus(readyText());
}

// ---- server mode ----

function apiHeaders(json) {
  const headers = {};
  if (json) headers['Content-Type'] = 'application/json';
  const key = el.apiKey.value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

// The message of an OpenAI-style error response, or the status line.
async function httpError(res) {
  let message = '';
  try {
    const text = await res.text();
    try {
      message = JSON.parse(text)?.error?.message ?? '';
    } catch {
      message = text.trim().slice(0, 300);
    }
  } catch {
    // the body could not be read: the status says enough
  }
  return new Error(`HTTP ${res.status}${message ? `: ${message}` : ` ${res.statusText}`}`);
}

// Fills the model picker from GET /v1/models. Returns whether a wick server answered (a 401
// counts: it is there, it wants a key).
async function loadServerModels() {
  let res;
  try {
    res = await fetch('/v1/models', { headers: apiHeaders(false) });
  } catch {
    return false; // no server at all (a static file server, or offline)
  }
  if (res.status === 401) {
    showError(`${(await httpError(res)).message}. Set the API key in the settings.`);
    return true;
  }
  if (!res.ok) return false;
  let list;
  try {
    list = (await res.json())?.data;
  } catch {
    return false; // not an OpenAI API: some other server answered
  }
  if (!Array.isArray(list)) return false;
  const previous = el.modelSelect.value;
  el.modelSelect.replaceChildren();
  for (const m of list) {
    if (typeof m?.id !== 'string') continue;
    const option = document.createElement('option');
    option.value = m.id;
    option.textContent = m.id;
    el.modelSelect.append(option);
  }
  if (previous && list.some((m) => m?.id === previous)) el.modelSelect.value = previous;
  return true;
}

// Yields the data of each server-sent event of a response body.
async function* sseEvents(body, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      if (signal.aborted) return;
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) !== -1) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
        const data = event
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data) yield data; // comments (": ping") carry none
      }
    }
  } finally {
    reader.releaseLock();
  }
}

// Streams one reply from the server into `reply`; returns {tokens, tps, finish}.
async function serverReply(reply, onText) {
  const s = settings();
  const controller = new AbortController();
  state.abort = () => controller.abort();
  const body = {
    messages: requestMessages(),
    stream: true,
    stream_options: { include_usage: true },
    temperature: s.temperature,
    top_p: s.topP,
    max_tokens: s.maxTokens,
  };
  if (el.modelSelect.value) body.model = el.modelSelect.value;
  if (s.seed !== null) body.seed = s.seed;
  let res;
  try {
    res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: apiHeaders(true),
      body: JSON.stringify(body),
      signal: controller.signal,
    });
  } catch (e) {
    if (controller.signal.aborted) return { tokens: 0, tps: NaN, finish: 'stopped' };
    throw new Error(`cannot reach the server: ${e.message}`);
  }
  if (!res.ok) throw await httpError(res);
  const stats = { tokens: 0, tps: NaN, finish: '' };
  let first = 0;
  let usage = null;
  try {
    for await (const data of sseEvents(res.body, controller.signal)) {
      if (data === '[DONE]') break;
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch {
        throw new Error(`the server sent an event that is not JSON: ${data.slice(0, 100)}`);
      }
      if (chunk.error) throw new Error(chunk.error.message ?? 'the server reported an error');
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const text = choice.delta?.content;
      if (text) {
        const now = performance.now();
        if (!first) first = now;
        stats.tokens++;
        // Decode speed: the chunks after the first over the time since the first.
        if (stats.tokens > 1) stats.tps = ((stats.tokens - 1) * 1000) / (now - first);
        onText(text, stats.tps);
      }
      if (choice.finish_reason) stats.finish = choice.finish_reason;
    }
  } catch (e) {
    if (!controller.signal.aborted) throw e;
  }
  if (controller.signal.aborted) {
    stats.finish = 'stopped';
  } else if (usage && first && usage.completion_tokens > 1) {
    stats.tokens = usage.completion_tokens;
    const elapsed = performance.now() - first;
    if (elapsed > 0) stats.tps = ((usage.completion_tokens - 1) * 1000) / elapsed;
  }
  return stats;
}

// ---- in-browser mode ----

async function wickClass() {
  if (!state.wick) {
    try {
      state.wick = (await import('./wick.js')).Wick;
    } catch (e) {
      throw new Error(`cannot load wick.js: ${e.message}`);
    }
  }
  return state.wick;
}

// Whether the engine's files are served (HEAD /wasm/wick-st.js; GET where HEAD is refused).
async function checkEngine() {
  const url = new URL('./wasm/wick-st.js', document.baseURI);
  try {
    let res = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    if (!res.ok && res.status !== 404) res = await fetch(url, { cache: 'no-store' });
    return res.ok;
  } catch {
    return false;
  }
}

function showEngineState() {
  if (state.engineBuilt === false) {
    el.engineNote.textContent =
      'The in-browser engine is not built: /wasm/wick-st.js is missing (run scripts/build-wasm).';
    el.engineNote.hidden = false;
  } else {
    el.engineNote.hidden = true;
  }
}

function showModelInfo(info) {
  const rows = [
    ['Name', info.name],
    ['Params', formatCount(info.n_params)],
    ['Arch', info.architecture],
    ['Context', info.n_ctx],
    ['Threads', info.threads],
    ['Engine', info.engine === 'mt' ? 'mt (threaded)' : info.engine],
    ['SIMD', info.simd === undefined ? undefined : String(info.simd)],
    ['Isolated', info.isolated === undefined ? undefined : info.isolated ? 'yes' : 'no'],
  ];
  el.modelInfo.replaceChildren();
  for (const [label, value] of rows) {
    if (value === undefined || value === null || value === '') continue;
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = String(value);
    dd.dataset.field = label.toLowerCase();
    el.modelInfo.append(dt, dd);
  }
  el.modelInfo.hidden = false;
}

function onProgress({ phase, loaded, total }) {
  const verb = { download: 'Downloading', cache: 'Reading cache', load: 'Loading' }[phase] ?? phase;
  if (total > 0) {
    el.progress.value = Math.min(1, loaded / total);
    setStatus(`${verb} ${formatBytes(loaded)} / ${formatBytes(total)}`);
  } else {
    el.progress.removeAttribute('value'); // indeterminate
    setStatus(`${verb} ${loaded ? formatBytes(loaded) : ''}`.trim());
  }
}

async function loadModel() {
  if (state.loading || state.busy) return;
  const file = el.modelFile.files?.[0];
  const url = el.modelUrl.value.trim();
  if (!file && !url) {
    showError('Give a model URL or choose a GGUF file.');
    return;
  }
  clearError();
  state.loading = true;
  updateControls();
  el.progress.value = 0;
  setStatus('Loading model…');
  try {
    const Wick = await wickClass();
    if (state.model) {
      const old = state.model;
      state.model = null;
      window.wickModel = undefined;
      el.modelInfo.hidden = true;
      await old.unload().catch(() => {});
    }
    const source = file ?? new URL(url, document.baseURI).href;
    const model = await Wick.load(source, { onProgress });
    state.model = model;
    window.wickModel = model;
    el.progress.value = 1;
    showModelInfo(model.info ?? {});
  } catch (e) {
    el.progress.value = 0;
    showError(`Loading the model failed: ${e instanceof Error ? e.message : e}`);
  } finally {
    state.loading = false;
    updateControls();
    setStatus(readyText());
  }
}

// Streams one reply from the in-browser model; returns {tokens, tps, finish}.
async function browserReply(reply, onText) {
  const model = state.model;
  const s = settings();
  let stopped = false;
  state.abort = () => {
    stopped = true;
    model.abort();
  };
  const opts = { temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens };
  if (s.seed !== null) opts.seed = s.seed;
  const stats = { tokens: 0, tps: NaN, finish: '' };
  let first = 0;
  for await (const piece of model.chat(requestMessages(), opts)) {
    const text = typeof piece === 'string' ? piece : (piece?.text ?? '');
    if (!text) continue;
    const now = performance.now();
    if (!first) first = now;
    stats.tokens++;
    if (stats.tokens > 1) stats.tps = ((stats.tokens - 1) * 1000) / (now - first);
    onText(text, stats.tps);
  }
  const final = model.stats ?? {};
  if (Number.isFinite(final.generatedTokens)) stats.tokens = final.generatedTokens;
  if (Number.isFinite(final.decodeTps) && final.decodeTps > 0) stats.tps = final.decodeTps;
  stats.finish = stopped ? 'stopped' : (final.stop ?? '');
  return stats;
}

// ---- one turn ----

async function send() {
  if (state.busy || state.loading) return;
  const text = el.prompt.value.trim();
  if (!text) return;
  if (state.mode === 'browser' && !state.model) {
    showError('Load a model first (or switch to Server).');
    return;
  }
  if (state.mode === 'server' && !state.serverUp) {
    showError('No wick server answers at this address: use the in-browser mode.');
    return;
  }
  clearError();
  el.prompt.value = '';
  state.messages.push({ role: 'user', content: text });
  const userDiv = addMessage('user', text);
  const reply = addMessage('assistant', '');
  const replyText = reply.querySelector('.text');
  const replyMeta = reply.querySelector('.meta');
  let content = '';
  state.busy = true;
  updateControls();
  el.tps.textContent = '';
  setStatus('Generating…');
  const onText = (piece, tps) => {
    content += piece;
    replyText.textContent = content;
    if (Number.isFinite(tps)) el.tps.textContent = formatTps(tps);
    scrollDown(false);
  };
  try {
    const stats =
      state.mode === 'server' ? await serverReply(reply, onText) : await browserReply(reply, onText);
    state.messages.push({ role: 'assistant', content });
    el.tps.textContent = formatTps(stats.tps);
    const parts = [`${stats.tokens} token${stats.tokens === 1 ? '' : 's'}`];
    if (formatTps(stats.tps)) parts.push(formatTps(stats.tps));
    if (stats.finish) parts.push(stats.finish);
    replyMeta.textContent = parts.join(' · ');
    setStatus(stats.finish === 'stopped' ? 'Stopped' : 'Done');
  } catch (e) {
    showError(e);
    if (content) {
      state.messages.push({ role: 'assistant', content }); // keep what arrived
      replyMeta.textContent = 'interrupted';
    } else {
      // Nothing came back: take the question out of the conversation, give it back to edit.
      state.messages.pop();
      reply.remove();
      userDiv.classList.add('failed');
      userDiv.title = 'Not answered';
      if (!el.prompt.value) el.prompt.value = text;
    }
    setStatus('Failed');
  } finally {
    reply.dataset.done = 'true';
    state.busy = false;
    state.abort = null;
    updateControls();
    scrollDown(false);
  }
}

function stop() {
  if (state.abort) {
    setStatus('Stopping…');
    try {
      state.abort();
    } catch (e) {
      showError(e);
    }
  }
}

// ---- start ----

function wire() {
  el.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  el.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  el.stop.addEventListener('click', stop);
  el.clear.addEventListener('click', clearConversation);
  el.load.addEventListener('click', () => loadModel());
  el.error.addEventListener('click', clearError);
  for (const radio of [el.modeServer, el.modeBrowser]) {
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      el.tps.textContent = ''; // the other mode's speed
      setMode(radio.value);
    });
  }
  el.modelSelect.addEventListener('change', () => setStatus(readyText()));
  el.modelFile.addEventListener('change', () => {
    if (el.modelFile.files?.length) el.modelUrl.value = '';
  });
  el.apiKey.addEventListener('change', async () => {
    storageSet(kApiKeyStorage, el.apiKey.value.trim());
    clearError();
    state.serverUp = await loadServerModels();
    updateControls();
    if (!state.busy) setStatus(readyText());
  });
  // Anything that slipped past a try/catch still ends up in #error, not the console.
  window.addEventListener('unhandledrejection', (e) => {
    e.preventDefault();
    showError(e.reason ?? 'unexpected error');
  });
}

async function init() {
  wire();
  el.apiKey.value = storageGet(kApiKeyStorage);
  const params = new URLSearchParams(location.search);
  const modeParam = params.get('mode');
  const modelParam = params.get('model');
  if (modelParam) el.modelUrl.value = modelParam;
  setMode(modeParam ?? state.mode);
  setStatus('Connecting…');

  const [serverUp, engineBuilt] = await Promise.all([loadServerModels(), checkEngine()]);
  state.serverUp = serverUp;
  state.engineBuilt = engineBuilt;
  showEngineState();
  state.started = true;
  setMode(modeParam ?? (serverUp ? 'server' : 'browser'));
  window.wickReady = true;
  if (params.get('autoload') === '1' && state.mode === 'browser' && el.modelUrl.value) {
    await loadModel();
  }
}

init().catch((e) => {
  showError(e);
  window.wickReady = true;
});
