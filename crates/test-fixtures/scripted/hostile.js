// One JavaScript handler for the sandbox's tests, its behaviour named by the request body
// (as hostile.py): a JSON list of numbers is the well-behaved path; "spin" loops forever;
// "bomb" allocates until stopped; "big:N" returns N bytes; "raise" throws a plain Error;
// "headers:NAME" answers with header NAME set. (The file cases are files.js's, so that
// this handler builds against the plain handler world; no exit case: the SDK gives
// JavaScript no exit.)

import { BadInput, BaseHandler, Tensor, exportHandler, jsonResponse, log } from './ferroserve-handler.js';

class Hostile extends BaseHandler {
  preprocess(request) {
    const body = request.text();
    if (body === 'spin') for (;;) {}
    if (body === 'bomb') {
      const hoard = [];
      // Unfilled: growing the linear memory is what the limit counts, and filling 8 MiB a
      // step in the interpreter took long enough to meet the deadline first.
      for (;;) hoard.push(new Uint8Array(8 << 20));
    }
    if (body.startsWith('big:')) {
      const n = Number(body.slice(4));
      return Tensor.fromBytes('big', 'u8', [n], new Uint8Array(n));
    }
    if (body === 'raise') throw new Error('no such key');
    if (body.startsWith('headers:')) return [[Tensor.fromList('input', [1, 2, 3, 4])], { header: body.slice(8) }];
    const values = request.json();
    if (!Array.isArray(values) || values.length === 0) throw new BadInput('send a non-empty JSON array of numbers, e.g. [1, 2, 3]');
    log.info(`preprocess ${values.length} values`);
    return [[Tensor.fromList('input', values.map(Number))], { n: values.length }];
  }

  postprocess(outputs, context) {
    if (context?.header) return jsonResponse({ ok: true }, 200, [[context.header, '1']]);
    return { outputs: Object.fromEntries(outputs.map((t) => [t.name, t.flat()])), context };
  }
}

export const handler = exportHandler(Hostile);
