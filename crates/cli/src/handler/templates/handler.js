// The {{name}} handler: pre- and post-processing for one model, run by ferroserve in a
// WebAssembly sandbox (a fresh instance per request). The model itself runs natively.
//
// The loop: edit this file, then
//   ferroserve handler build
//   ferroserve handler test --model model.pt --input sample.json

import { BadInput, BaseHandler, Tensor, exportHandler, log } from './ferroserve-handler.js';
// Files shipped with `ferroserve archive --extra-files`: readFile, readText and readJson
// from ferroserve-files.js (beside this file), called in initialize() or later.

// What ONE request's input tensor looks like to the model: its name, dtype and shape
// WITHOUT the batch dimension (the server stacks requests into [N, ...INPUT_SHAPE] and
// passes the tensors to forward() positionally, in the order preprocess returns them).
const INPUT_NAME = 'input';
const INPUT_SHAPE = [4];

class MyHandler extends BaseHandler {
  preprocess(request) {
    const values = request.json();
    const flat = (Array.isArray(values) ? values : values?.data ?? []).flat(Infinity);
    const need = INPUT_SHAPE.reduce((a, b) => a * b, 1);
    if (flat.length !== need) throw new BadInput(`send ${need} numbers as JSON (shape [${INPUT_SHAPE}]), got ${flat.length}`);
    log.debug(`preprocess: ${need} values`);
    return Tensor.fromList(INPUT_NAME, flat.map(Number), 'f32', INPUT_SHAPE);
  }

  postprocess(outputs, _context) {
    // outputs: the model's outputs for this request, batch dimension removed
    // ("output" for a single tensor, "output_0", "output_1", ... for a tuple).
    const scores = outputs[0].flat();
    const best = scores.indexOf(Math.max(...scores));
    return { class: best, scores };
  }
}

export const handler = exportHandler(MyHandler);
