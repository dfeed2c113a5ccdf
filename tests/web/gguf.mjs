// GGUF files the browser tests make in memory from the shared stories260K model:
//   corruptModel(buf): the same file with its tensor data cut short (a valid header that promises
//     more data than there is), which every loader must refuse with an error instead of reading
//     past the end;
//   slowModel(buf, dims): a llama model with stories260K's vocabulary and tokenizer but many
//     more (random, seeded) F32 weights, so that generating takes tens of milliseconds a token and
//     a test has the time to watch text stream and to press stop while it runs.
// Only the subset of GGUF v3 these files use is read and written.

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9, U64: 10, I64: 11, F64: 12 };
const SCALAR_BYTES = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

// Reads the header of a GGUF v2/v3 buffer: key/values (with their raw bytes, so that a writer
// can copy them), tensor infos and where the data section starts.
export function parseGguf(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const u32 = () => { const v = dv.getUint32(p, true); p += 4; return v; };
  const u64 = () => { const v = Number(dv.getBigUint64(p, true)); p += 8; return v; };
  const str = () => { const n = u64(); const s = buf.subarray(p, p + n).toString('utf8'); p += n; return s; };
  const skipValue = (type) => {
    if (type === T.STR) { const n = u64(); p += n; return; }
    if (type === T.ARR) {
      const et = u32();
      const n = u64();
      if (et === T.STR) {
        for (let i = 0; i < n; i++) { const len = u64(); p += len; }
      } else p += n * SCALAR_BYTES[et];
      return;
    }
    if (!(type in SCALAR_BYTES)) throw new Error(`gguf: unknown value type ${type} at offset ${p}`);
    p += SCALAR_BYTES[type];
  };
  if (u32() !== GGUF_MAGIC) throw new Error('gguf: bad magic');
  const version = u32();
  if (version < 2) throw new Error(`gguf: version ${version} not supported here`);
  const nTensors = u64();
  const nKv = u64();
  const kvs = [];
  for (let i = 0; i < nKv; i++) {
    const start = p;
    const key = str();
    const type = u32();
    const valueAt = p;
    skipValue(type);
    kvs.push({ key, type, raw: buf.subarray(start, p), valueAt });
  }
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = u32();
    const dims = [];
    for (let d = 0; d < nDims; d++) dims.push(u64());
    const type = u32();
    const offset = u64();
    tensors.push({ name, dims, type, offset });
  }
  const alignKv = kvs.find((kv) => kv.key === 'general.alignment');
  const alignment = alignKv ? dv.getUint32(alignKv.valueAt, true) : 32;
  const dataStart = Math.ceil(p / alignment) * alignment;
  return { version, kvs, tensors, alignment, dataStart };
}

// The file with the second half of its tensor data cut off.
export function corruptModel(buf) {
  const g = parseGguf(buf);
  const cut = g.dataStart + Math.floor((buf.length - g.dataStart) / 2);
  return Buffer.from(buf.subarray(0, cut));
}

// Deterministic uniform values in [-1, 1) (mulberry32).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

class Writer {
  constructor() { this.parts = []; this.size = 0; }
  bytes(b) { this.parts.push(b); this.size += b.length; }
  u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.bytes(b); }
  u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.bytes(b); }
  str(s) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.bytes(b); }
  pad(alignment) { const n = (alignment - (this.size % alignment)) % alignment; if (n) this.bytes(Buffer.alloc(n)); }
  scalar(type, v) {
    const b = Buffer.alloc(SCALAR_BYTES[type]);
    if (type === T.U32) b.writeUInt32LE(v);
    else if (type === T.I32) b.writeInt32LE(v);
    else if (type === T.F32) b.writeFloatLE(v);
    else if (type === T.U64) b.writeBigUInt64LE(BigInt(v));
    else throw new Error(`gguf writer: scalar type ${type} not supported`);
    this.bytes(b);
  }
  concat() { return Buffer.concat(this.parts, this.size); }
}

// A llama model with stories260K's tokenizer and metadata, but dims {nEmbd, nLayer, nFf, nHead}
// and random weights (std 1/sqrt(fan_in)); norms are 1. About 4 * (nLayer * (4 nEmbd² +
// 3 nEmbd nFf) + 2 nVocab nEmbd) bytes. noEos: every embedding gets a large constant in
// dimension 0, so the final hidden state's dimension 0 is always large and positive, and the EOS
// row of the output matrix gets a large negative weight there: EOS's logit is far below every
// other one, so generation only ends at max_tokens, a full context or an abort (a random model
// would otherwise end at a random point, which could be before a test presses stop).
export function slowModel(storiesBuf, { nEmbd = 512, nLayer = 8, nFf = 1408, nHead = 8, nCtx = 4096, seed = 1, noEos = true } = {}) {
  const g = parseGguf(storiesBuf);
  const tokens = g.tensors.find((t) => t.name === 'token_embd.weight');
  if (!tokens) throw new Error('slowModel: token_embd.weight not in the source model');
  const nVocab = tokens.dims[1];
  const eosKv = g.kvs.find((kv) => kv.key === 'tokenizer.ggml.eos_token_id');
  const eos = eosKv ? storiesBuf.readUInt32LE(eosKv.valueAt) : -1;
  if (noEos && eos < 0) throw new Error('slowModel: the source model has no EOS id');
  const overrides = {
    'llama.embedding_length': nEmbd,
    'llama.block_count': nLayer,
    'llama.feed_forward_length': nFf,
    'llama.attention.head_count': nHead,
    'llama.attention.head_count_kv': nHead,
    'llama.rope.dimension_count': nEmbd / nHead,
    'llama.context_length': nCtx,
  };
  const tensors = [
    ['token_embd.weight', [nEmbd, nVocab], 1],
    ['output_norm.weight', [nEmbd], 'ones'],
    ['output.weight', [nEmbd, nVocab], 1 / Math.sqrt(nEmbd)],
  ];
  for (let l = 0; l < nLayer; l++) {
    const b = `blk.${l}.`;
    const s = 1 / Math.sqrt(nEmbd);
    tensors.push([b + 'attn_norm.weight', [nEmbd], 'ones'], [b + 'attn_q.weight', [nEmbd, nEmbd], s],
      [b + 'attn_k.weight', [nEmbd, nEmbd], s], [b + 'attn_v.weight', [nEmbd, nEmbd], s],
      [b + 'attn_output.weight', [nEmbd, nEmbd], s], [b + 'ffn_norm.weight', [nEmbd], 'ones'],
      [b + 'ffn_gate.weight', [nEmbd, nFf], s], [b + 'ffn_up.weight', [nEmbd, nFf], s],
      [b + 'ffn_down.weight', [nFf, nEmbd], 1 / Math.sqrt(nFf)]);
  }
  for (const key of Object.keys(overrides)) {
    if (!g.kvs.some((kv) => kv.key === key)) throw new Error(`slowModel: ${key} not in the source model`);
  }
  const w = new Writer();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  const kvs = g.kvs.filter((kv) => kv.key !== 'general.alignment');
  w.u64(kvs.length);
  for (const kv of kvs) {
    if (kv.key in overrides) {
      w.str(kv.key);
      w.u32(kv.type);
      w.scalar(kv.type, overrides[kv.key]);
    } else if (kv.key === 'general.name') {
      w.str(kv.key);
      w.u32(T.STR);
      w.str('wick-web-test-slow');
    } else {
      w.bytes(kv.raw);
    }
  }
  const alignment = 32;
  let offset = 0;
  const sizes = tensors.map(([, dims]) => dims.reduce((a, b) => a * b, 1) * 4);
  tensors.forEach(([name, dims], i) => {
    w.str(name);
    w.u32(dims.length);
    for (const d of dims) w.u64(d);
    w.u32(0); // F32
    w.u64(offset);
    offset += Math.ceil(sizes[i] / alignment) * alignment;
  });
  w.pad(alignment);
  const next = rng(seed);
  const scale = Math.sqrt(3); // uniform [-1, 1) has std 1/sqrt(3)
  tensors.forEach(([, , std], i) => {
    const f = new Float32Array(Math.ceil(sizes[i] / alignment) * alignment / 4);
    const n = sizes[i] / 4;
    if (std === 'ones') f.fill(1, 0, n);
    else for (let k = 0; k < n; k++) f[k] = next() * scale * std;
    if (noEos && i === 0) for (let t = 0; t < nVocab; t++) f[t * nEmbd] = 8;
    if (noEos && i === 2) f[eos * nEmbd] = -20;
    w.bytes(Buffer.from(f.buffer));
  });
  return w.concat();
}
