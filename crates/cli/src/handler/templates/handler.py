"""The {{name}} handler: pre- and post-processing for one model, run by ferroserve in a
WebAssembly sandbox (a fresh instance per request). The model itself runs natively.

The loop: edit this file, then
    ferroserve handler build
    ferroserve handler test --model model.pt --input sample.json
"""

from ferroserve_handler import BadInput, BaseHandler, Tensor, export, log

# What ONE request's input tensor looks like to the model: its name, dtype and shape
# WITHOUT the batch dimension (the server stacks requests into [N, *INPUT_SHAPE] and
# passes the tensors to forward() positionally, in the order preprocess returns them).
INPUT_NAME = "input"
INPUT_SHAPE = [4]


class MyHandler(BaseHandler):
    def preprocess(self, request):
        values = request.json()
        flat = values if isinstance(values, list) else values.get("data", [])
        while flat and isinstance(flat[0], list):
            flat = [v for row in flat for v in row]
        need = 1
        for d in INPUT_SHAPE:
            need *= d
        if len(flat) != need:
            raise BadInput(f"send {need} numbers as JSON (shape {INPUT_SHAPE}), got {len(flat)}")
        log.debug(f"preprocess: {need} values")
        return Tensor.from_list(INPUT_NAME, [float(v) for v in flat], "f32", INPUT_SHAPE)

    def postprocess(self, outputs, context):
        # outputs: the model's outputs for this request, batch dimension removed
        # ("output" for a single tensor, "output_0", "output_1", ... for a tuple).
        scores = outputs[0].flat()
        best = max(range(len(scores)), key=scores.__getitem__)
        return {"class": best, "scores": scores}


Handler = export(MyHandler)
