// Write ferroserve handlers in JavaScript: TorchServe's handler shape (a class with
// `preprocess` and `postprocess`) built into a WebAssembly component by componentize-js
// against the `ferroserve:handler@0.2.0` world. The model itself runs natively on the host.
//
//   import { BaseHandler, Tensor, BadInput, exportHandler } from './ferroserve-handler.js';
//   class Mlp extends BaseHandler {
//     preprocess(request) { return Tensor.fromList('input', request.json()); }
//     postprocess(outputs) { const l = outputs[0].flat(); return { class: l.indexOf(Math.max(...l)) }; }
//   }
//   export const handler = exportHandler(Mlp);   // componentize-js exports `handler`
//
// Top-level code runs once, at build time (pre-initialisation); each request runs in a
// fresh instance, so nothing survives between calls except through `context`. The
// archive's files: `readFile`, `readText`, `readJson` from './ferroserve-files.js'.

import { log as witLog } from 'ferroserve:handler/log@0.2.0';

const DTYPES = {
  f32: [4, Float32Array], f64: [8, Float64Array], i64: [8, BigInt64Array],
  i32: [4, Int32Array], i8: [1, Int8Array], u8: [1, Uint8Array], bool: [1, Uint8Array],
  f16: [2, Uint16Array], bf16: [2, Uint16Array],
};
const ALIASES = { float32: 'f32', float64: 'f64', int64: 'i64', int32: 'i32', int8: 'i8', uint8: 'u8', boolean: 'bool', float16: 'f16', bfloat16: 'bf16' };

export function dtypeName(d) {
  const name = ALIASES[d] ?? d;
  if (!(name in DTYPES)) throw new Error(`unknown dtype ${d}; use one of ${Object.keys(DTYPES).join(', ')}`);
  return name;
}

/** The client's input is wrong (HTTP 400); the message says what to send. */
export class BadInput extends Error {}
/** The handler itself failed (HTTP 500); so does any other exception. */
export class HandlerFailure extends Error {}

const numel = (shape) => shape.reduce((a, b) => a * b, 1);
const shapeOf = (v) => { const s = []; while (Array.isArray(v)) { s.push(v.length); v = v[0]; } return s; };

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
function toBf16(v) { f32[0] = v; const b = u32[0]; return ((b + 0x7fff + ((b >> 16) & 1)) >>> 16) & 0xffff; }
function fromBf16(h) { u32[0] = h << 16; return f32[0]; }
function toF16(v) {
  f32[0] = v; const x = u32[0], sign = (x >>> 16) & 0x8000; let e = ((x >>> 23) & 0xff) - 112, m = x & 0x7fffff;
  if (e <= 0) { if (e < -10) return sign; m |= 0x800000; const s = 14 - e; return sign | ((m + (1 << (s - 1))) >> s); }
  if (e >= 31) return sign | 0x7c00 | (((x >>> 23) & 0xff) === 0xff && m ? 0x200 : 0);
  const r = sign | (e << 10) | (m >> 13); return r + ((m >> 12) & 1);
}
function fromF16(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A named, dense, row-major tensor of little-endian bytes. */
export class Tensor {
  constructor(name, dtype, shape, data) {
    this.name = name;
    this.dtype = dtypeName(dtype);
    this.shape = Array.from(shape, Number);
    this.data = data instanceof Uint8Array ? data : new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength ?? data.length);
    const need = numel(this.shape) * DTYPES[this.dtype][0];
    if (this.data.length !== need) throw new Error(`tensor ${name}: shape [${this.shape}] of ${this.dtype} needs ${need} bytes, got ${this.data.length}`);
  }

  /** From a number or (nested) array; the shape is the nesting's unless given. */
  static fromList(name, values, dtype = 'f32', shape = undefined) {
    dtype = dtypeName(dtype);
    const flat = Array.isArray(values) ? values.flat(Infinity) : [values];
    shape = shape ?? shapeOf(values);
    const [, Typed] = DTYPES[dtype];
    let typed;
    if (dtype === 'i64') typed = BigInt64Array.from(flat, (v) => BigInt(v));
    else if (dtype === 'bool') typed = Uint8Array.from(flat, (v) => (v ? 1 : 0));
    else if (dtype === 'bf16') typed = Uint16Array.from(flat, toBf16);
    else if (dtype === 'f16') typed = Uint16Array.from(flat, toF16);
    else typed = Typed.from(flat);
    return new Tensor(name, dtype, shape, new Uint8Array(typed.buffer));
  }

  /** From a typed array (Float32Array, Int32Array, ...); 1-D unless `shape` says otherwise. */
  static fromTypedArray(name, array, shape = undefined) {
    const entry = Object.entries(DTYPES).find(([k, [, T]]) => array instanceof T && !['bool', 'f16', 'bf16'].includes(k));
    if (!entry) throw new Error('unsupported typed array');
    return new Tensor(name, entry[0], shape ?? [array.length], new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  }

  /** From raw little-endian bytes. */
  static fromBytes(name, dtype, shape, bytes) { return new Tensor(name, dtype, shape, bytes); }

  get numel() { return numel(this.shape); }

  /** The elements as a typed array of the dtype (Uint16Array of raw bits for f16/bf16). */
  typedArray() {
    const [size, Typed] = DTYPES[this.dtype];
    const copy = this.data.slice();
    return new Typed(copy.buffer, 0, copy.length / size);
  }

  /** All elements, row-major, as plain numbers (BigInt for i64, booleans for bool). */
  flat() {
    const t = this.typedArray();
    if (this.dtype === 'bool') return Array.from(t, (v) => v !== 0);
    if (this.dtype === 'f16') return Array.from(t, fromF16);
    if (this.dtype === 'bf16') return Array.from(t, fromBf16);
    return Array.from(t);
  }

  /** The elements nested by shape. */
  toList() {
    const nest = (flat, shape) => {
      if (shape.length === 0) return flat[0];
      if (shape.length === 1) return flat;
      const step = numel(shape.slice(1));
      return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
    };
    return nest(this.flat(), this.shape);
  }
}

const decoder = new TextDecoder(), encoder = new TextEncoder();

/** A client request: body (Uint8Array), contentType, headers ([name, value], lower-case),
 * parameters (archive's, then the query's), fields (every multipart form field). */
export class Request {
  constructor(r) {
    this.body = r.body; this.contentType = r.contentType; this.headers = r.headers;
    this.parameters = r.parameters; this.fields = r.fields ?? [];
  }
  get mediaType() { return this.contentType?.split(';')[0].trim().toLowerCase(); }
  header(name) { name = name.toLowerCase(); return this.headers.find(([k]) => k === name)?.[1]; }
  param(name) { let v; for (const [k, x] of this.parameters) if (k === name) v = x; return v; }
  field(name) { return this.fields.find((f) => f.name === name); }
  text() { return decoder.decode(this.body); }
  json() {
    try { return JSON.parse(this.text()); }
    catch (e) { throw new BadInput(`the request body is not the JSON this model expects: ${e.message}`); }
  }
}

/** A response: body (string or bytes), content type, status and extra headers. */
export class Response {
  constructor(body, contentType = 'application/octet-stream', status = 200, headers = []) {
    this.body = typeof body === 'string' ? encoder.encode(body) : body;
    this.contentType = contentType; this.status = status;
    this.headers = Array.isArray(headers) ? headers : Object.entries(headers);
  }
}
export const jsonResponse = (value, status = 200, headers = []) => new Response(JSON.stringify(value), 'application/json', status, headers);
export const textResponse = (text, status = 200, headers = []) => new Response(text, 'text/plain; charset=utf-8', status, headers);

function toResponse(v) {
  if (v instanceof Response) return v;
  if (v instanceof Uint8Array) return new Response(v);
  if (typeof v === 'string') return textResponse(v);
  return jsonResponse(v);
}

/** Lines in the server's log, tagged with the model's name. */
export const log = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error'].map((l) => [l, (m) => witLog(l, String(m))]));

/** TorchServe's handler shape; override preprocess and postprocess. */
export class BaseHandler {
  initialize() {}
  preprocess(_request) { throw new Error('override preprocess(request)'); }
  postprocess(_outputs, _context) { throw new Error('override postprocess(outputs, context)'); }
}

// context blobs: "j" + JSON or "b" + raw bytes, so postprocess gets back what it gave.
function encodeContext(c) {
  if (c === undefined || c === null) return new Uint8Array(0);
  const body = c instanceof Uint8Array ? c : encoder.encode(JSON.stringify(c));
  const out = new Uint8Array(body.length + 1);
  out[0] = c instanceof Uint8Array ? 0x62 : 0x6a; out.set(body, 1); return out;
}
function decodeContext(blob) {
  if (!blob || blob.length === 0) return undefined;
  return blob[0] === 0x62 ? blob.slice(1) : JSON.parse(decoder.decode(blob.slice(1)));
}

function failure(e) {
  if (e instanceof BadInput) return { tag: 'bad-input', val: e.message };
  if (e instanceof HandlerFailure) return { tag: 'internal', val: e.message };
  const message = `${e?.name ?? 'Error'}: ${e?.message ?? e}`;
  witLog('error', `handler threw ${message}`);
  return { tag: 'internal', val: message };
}

const WIT_DTYPE = { bool: 'boolean' };
const FROM_WIT = { boolean: 'bool' };

/** The object componentize-js exports for `HandlerClass`: `export const handler = exportHandler(MyHandler)`. */
export function exportHandler(HandlerClass) {
  const ready = () => { const h = new HandlerClass(); h.initialize(); return h; };
  return {
    preprocess(request) {
      let value;
      try { value = ready().preprocess(new Request(request)); } catch (e) { throw failure(e); }
      // A Tensor, an array of Tensors, or [tensor(s), context].
      let context;
      if (Array.isArray(value) && value.length === 2 && !(value[1] instanceof Tensor)
          && (value[0] instanceof Tensor || Array.isArray(value[0]))) [value, context] = value;
      const tensors = value instanceof Tensor ? [value] : value;
      if (!Array.isArray(tensors) || tensors.length === 0 || !tensors.every((t) => t instanceof Tensor)) {
        throw { tag: 'internal', val: 'preprocess must return a Tensor, an array of Tensors, or [tensors, context]' };
      }
      return {
        inputs: tensors.map((t) => ({ name: t.name, dtype: WIT_DTYPE[t.dtype] ?? t.dtype, shape: BigUint64Array.from(t.shape, BigInt), data: t.data })),
        context: encodeContext(context),
      };
    },
    postprocess(outputs, context) {
      try {
        const tensors = outputs.map((t) => new Tensor(t.name, FROM_WIT[t.dtype] ?? t.dtype, Array.from(t.shape, Number), t.data));
        const r = toResponse(ready().postprocess(tensors, decodeContext(context)));
        return { body: r.body, contentType: r.contentType, status: r.status, headers: r.headers };
      } catch (e) { throw failure(e); }
    },
  };
}
