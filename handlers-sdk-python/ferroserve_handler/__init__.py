"""Write ferroserve handlers in Python: TorchServe's handler shape (a class with
`preprocess` and `postprocess`) built into a WebAssembly component by componentize-py
against the `ferroserve:handler@0.2.0` world. The model itself runs natively on the host.

    from ferroserve_handler import BaseHandler, Tensor, BadInput, export

    class Mlp(BaseHandler):
        def preprocess(self, request):
            values = request.json()
            if len(values) != 4:
                raise BadInput("send a JSON array of 4 numbers")
            return Tensor.from_list("input", values)        # no batch dimension

        def postprocess(self, outputs, context):
            logits = outputs[0].flat()
            return {"class": logits.index(max(logits))}   # dict/list -> JSON

    Handler = export(Mlp)   # componentize-py looks for `Handler` in the app module

Everything imported at module level is imported once, at build time (pre-initialisation),
not per request. Each request runs in a fresh instance: keep nothing between calls except
through `context`. Files shipped in the archive (`--extra-files`) are read-only under `/`:
`read_file("labels.json")`.
"""

from .errors import BadInput, HandlerFailure
from .http import Field, Request, Response, json_response, text_response
from .logging import log
from .files import read_file, read_json, read_text
from .tensor import DTYPES, Tensor, dtype_name
from .base import BaseHandler, export

__all__ = [
    "BadInput", "BaseHandler", "DTYPES", "Field", "HandlerFailure", "Request", "Response",
    "Tensor", "dtype_name", "export", "json_response", "log", "read_file", "read_json",
    "read_text", "text_response",
]
