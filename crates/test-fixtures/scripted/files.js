// A JavaScript handler that reads its archive's files with the SDK's helpers
// (ferroserve-files.js, so `handler build` gives it the world with wasi:filesystem), its
// behaviour named by the request body as hostile.js's: a JSON list of numbers is the
// well-behaved path (an f32 tensor; postprocess echoes the outputs); "read:PATH" returns
// the bytes of PATH through readFile, a failure as BadInput naming PATH (as fs-escape
// does in Rust and hostile.py's "read:"); "text:NAME" answers with the archive file NAME
// through readText, whose own error (a 500) stands when that fails.

import { BadInput, BaseHandler, Tensor, exportHandler } from './ferroserve-handler.js';
import { readFile, readText } from './ferroserve-files.js';

class Files extends BaseHandler {
  preprocess(request) {
    const body = request.text();
    if (body.startsWith('read:')) {
      let data;
      try { data = readFile(body.slice(5)); } catch (e) { throw new BadInput(`cannot read ${body.slice(5)}: ${e.message}`); }
      return Tensor.fromBytes('contents', 'u8', [data.length], data);
    }
    if (body.startsWith('text:')) return [[Tensor.fromList('input', [1, 2, 3, 4])], { text: readText(body.slice(5)) }];
    const values = request.json();
    if (!Array.isArray(values) || values.length === 0) throw new BadInput('send a non-empty JSON array of numbers, e.g. [1, 2, 3]');
    return [[Tensor.fromList('input', values.map(Number))], { n: values.length }];
  }

  postprocess(outputs, context) {
    if (context?.text !== undefined) return { text: context.text };
    return { outputs: Object.fromEntries(outputs.map((t) => [t.name, t.flat()])), context };
  }
}

export const handler = exportHandler(Files);
