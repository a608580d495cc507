// Host-side tests of the JavaScript SDK's pure parts (tensors, requests, the export glue,
// the file helpers over a stub of wasi:filesystem);
// the component side is tested end to end (tests/handler_loop.rs and others).
// Run: node --import ./handlers-sdk-js/test/register.mjs --test handlers-sdk-js/test/sdk.test.mjs
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { readFile, readJson, readText } from '../ferroserve-files.js';
import { BadInput, BaseHandler, HandlerFailure, Request, Tensor, exportHandler, jsonResponse } from '../ferroserve-handler.js';

test('nested lists infer the shape and round-trip every dtype', () => {
  const t = Tensor.fromList('x', [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual([t.dtype, t.shape, t.data.length], ['f32', [2, 3], 24]);
  assert.deepEqual(t.toList(), [[1, 2, 3], [4, 5, 6]]);
  for (const [dtype, values] of [['f64', [0.1]], ['i64', [-(2n ** 40n), 7n]], ['i32', [-3, 4]], ['i8', [-128, 127]],
    ['u8', [0, 255]], ['bool', [true, false]], ['f16', [0.5, -2]], ['bf16', [1, -3]]]) {
    assert.deepEqual(Tensor.fromList('x', values, dtype).flat(), values, dtype);
  }
});

test('typed arrays and byte counts', () => {
  const t = Tensor.fromTypedArray('x', new Int32Array([1, 2, 3, 4]), [2, 2]);
  assert.deepEqual([t.dtype, t.shape], ['i32', [2, 2]]);
  assert.throws(() => new Tensor('x', 'f32', [4], new Uint8Array(3)), /needs 16 bytes, got 3/);
  assert.throws(() => Tensor.fromList('x', [1], 'complex64'), /unknown dtype/);
});

test('request lookups and bad JSON', () => {
  const body = new TextEncoder().encode('[1,');
  const r = new Request({ body, contentType: 'Application/JSON; x=1', headers: [['x-a', '1']], parameters: [['k', 'a'], ['k', 'b']], fields: [] });
  assert.equal(r.mediaType, 'application/json');
  assert.equal(r.header('X-A'), '1');
  assert.equal(r.param('k'), 'b');
  assert.throws(() => r.json(), BadInput);
});

test('the export glue maps results, context and errors onto the world', () => {
  class H extends BaseHandler {
    preprocess(request) {
      if (request.text() === 'bad') throw new BadInput('fix it');
      if (request.text() === 'oops') throw new TypeError('boom');
      return [Tensor.fromList('input', [1, 2]), { n: 2 }];
    }
    postprocess(outputs, context) { return jsonResponse({ n: context.n, v: outputs[0].flat() }, 201, [['x-a', '1']]); }
  }
  const h = exportHandler(H);
  const req = (text) => ({ body: new TextEncoder().encode(text), headers: [], parameters: [], fields: [] });
  const p = h.preprocess(req('ok'));
  assert.equal(p.inputs[0].dtype, 'f32');
  assert.deepEqual(Array.from(p.inputs[0].shape), [2n]);
  const r = h.postprocess(p.inputs, p.context);
  assert.deepEqual([r.status, r.contentType, r.headers], [201, 'application/json', [['x-a', '1']]]);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(r.body)), { n: 2, v: [1, 2] });
  assert.throws(() => h.preprocess(req('bad')), (e) => e.tag === 'bad-input' && e.val === 'fix it');
  assert.throws(() => h.preprocess(req('oops')), (e) => e.tag === 'internal' && e.val === 'TypeError: boom');
});

test('archive files: bytes, text and JSON, a leading slash or not; a missing one names --extra-files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferroserve-js-files-'));
  writeFileSync(join(dir, 'labels.json'), '{"0": "cat"}');
  writeFileSync(join(dir, 'vocab.txt'), 'héllo\n');
  process.env.FERROSERVE_FILES = dir;
  try {
    assert.deepEqual(readJson('/labels.json'), { 0: 'cat' });
    assert.equal(readText('vocab.txt'), 'héllo\n');
    assert.deepEqual(Array.from(readFile('./vocab.txt').subarray(0, 2)), [0x68, 0xc3]);
    assert.throws(() => readFile('missing.txt'), (e) => e instanceof HandlerFailure
      && e.message.includes('(No such file or directory)') && e.message.includes('--extra-files missing.txt'));
    assert.throws(() => readFile('../outside.txt'), (e) => e instanceof HandlerFailure && e.message.includes('(Operation not permitted)'));
    delete process.env.FERROSERVE_FILES;
    assert.throws(() => readFile('labels.json'), /the archive has no extra files/);
  } finally {
    delete process.env.FERROSERVE_FILES;
  }
});
