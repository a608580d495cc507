"""The handler class authors subclass, and `export`, which turns it into the class
componentize-py exports (`Handler`), converting between the world's types and the SDK's."""

import json

from .errors import BadInput, HandlerFailure
from .http import Field, Request, to_response
from .logging import log
from .tensor import Tensor


class BaseHandler:
    """TorchServe's handler shape. Override `preprocess` (one request -> the model's input
    tensors, without the batch dimension) and `postprocess` (this request's outputs -> a
    response); `initialize` runs once per instance, before the first of them."""

    def initialize(self):
        pass

    def preprocess(self, request):
        """Return a Tensor, a list of Tensors (in the model's input order), or
        `(tensors, context)`; `context` (bytes, or anything JSON can hold) comes back to
        postprocess."""
        raise NotImplementedError("override preprocess(self, request)")

    def postprocess(self, outputs, context):
        """`outputs`: this request's output Tensors, batch dimension removed. Return a
        Response, a dict/list (JSON), str (text) or bytes."""
        raise NotImplementedError("override postprocess(self, outputs, context)")


# context blobs: b"j" + JSON, or b"b" + raw bytes, so postprocess gets back what it gave.
def encode_context(context):
    if context is None:
        return b""
    if isinstance(context, (bytes, bytearray, memoryview)):
        return b"b" + bytes(context)
    return b"j" + json.dumps(context, separators=(",", ":")).encode()


def decode_context(blob):
    blob = bytes(blob)
    if not blob:
        return None
    if blob[:1] == b"b":
        return blob[1:]
    return json.loads(blob[1:])


def split_prepared(value):
    """preprocess's return value as (list of Tensors, context)."""
    context = None
    if isinstance(value, tuple) and len(value) == 2 and not isinstance(value[0], str):
        value, context = value
    tensors = [value] if isinstance(value, Tensor) else list(value)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise HandlerFailure(f"preprocess must return Tensors, got {type(t).__name__}")
    if not tensors:
        raise HandlerFailure("preprocess returned no tensors")
    return tensors, context


def failure(e):
    """An exception as (is_bad_input, message)."""
    if isinstance(e, BadInput):
        return True, str(e)
    if isinstance(e, HandlerFailure):
        return False, str(e)
    message = f"{type(e).__name__}: {e}"
    log.error(f"handler raised {message}")
    return False, message


def export(handler_class):
    """The class componentize-py exports for `handler_class`: assign it to `Handler` at
    module level in your app (`Handler = export(MyHandler)`)."""
    from componentize_py_types import Err
    from wit_world import exports
    from wit_world.imports import types

    dtypes = {name: getattr(types.Dtype, name.upper() if name != "bool" else "BOOLEAN")
              for name in ("f32", "f16", "bf16", "f64", "i64", "i32", "i8", "u8", "bool")}
    names = {v: k for k, v in dtypes.items()}

    def error(e):
        bad, message = failure(e)
        return Err(types.HandlerError_BadInput(message) if bad
                   else types.HandlerError_Internal(message))

    def ready():
        user = handler_class()
        user.initialize()
        return user

    class Handler(exports.Handler):
        def preprocess(self, request):
            try:
                req = Request(request.body, request.content_type, request.headers,
                              request.parameters,
                              [Field(f.name, f.data, f.filename, f.content_type)
                               for f in request.fields])
                tensors, context = split_prepared(ready().preprocess(req))
                return types.Prepared(
                    [types.Tensor(t.name, dtypes[t.dtype], t.shape, t.data) for t in tensors],
                    encode_context(context))
            except Exception as e:
                raise error(e)

        def postprocess(self, outputs, context):
            try:
                tensors = [Tensor(t.name, names[t.dtype], t.shape, t.data) for t in outputs]
                r = to_response(ready().postprocess(tensors, decode_context(context)))
                return types.Response(r.body, r.content_type, r.status, r.headers)
            except Exception as e:
                raise error(e)

    return Handler
