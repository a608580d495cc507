"""One Python handler for the sandbox's tests, its behaviour named by the request body:
a JSON list of numbers is the well-behaved path (an f32 tensor; postprocess echoes the
outputs); "spin" loops forever; "bomb" allocates until stopped; "read:PATH" returns the
bytes of PATH; "text:NAME" answers with the archive file NAME through read_text (its own
error, a 500, when that fails); "big:N" returns N bytes; "exit" calls sys.exit;
"hard-exit" os._exit; "raise" raises a plain exception; "headers:NAME" answers with header
NAME set."""

import os
import sys

from ferroserve_handler import BadInput, BaseHandler, Tensor, export, json_response, log, read_text


class Hostile(BaseHandler):
    def preprocess(self, request):
        body = request.body.decode(errors="replace")
        if body == "spin":
            while True:
                pass
        if body == "bomb":
            hoard = []
            while True:
                hoard.append(bytearray(8 << 20))
        if body.startswith("read:"):
            try:
                with open(body[5:], "rb") as f:
                    data = f.read()
            except OSError as e:  # as fs-escape does in Rust: say what could not be read
                raise BadInput(f"cannot read {body[5:]}: {e}")
            return Tensor.from_bytes("contents", "u8", [len(data)], data)
        if body.startswith("text:"):
            return Tensor.from_list("input", [1.0, 2.0, 3.0, 4.0]), {"text": read_text(body[5:])}
        if body.startswith("big:"):
            n = int(body[4:])
            return Tensor.from_bytes("big", "u8", [n], bytes(n))
        if body == "exit":
            sys.exit(3)
        if body == "hard-exit":
            os._exit(3)
        if body == "raise":
            raise KeyError("no such key")
        if body.startswith("headers:"):
            return Tensor.from_list("input", [1.0, 2.0, 3.0, 4.0]), {"header": body[8:]}
        values = request.json()
        if not isinstance(values, list) or not values:
            raise BadInput("send a non-empty JSON array of numbers, e.g. [1, 2, 3]")
        log.info(f"preprocess {len(values)} values")
        return Tensor.from_list("input", [float(v) for v in values]), {"n": len(values)}

    def postprocess(self, outputs, context):
        if context and "header" in context:
            return json_response({"ok": True}, headers=[(context["header"], "1")])
        if context and "text" in context:
            return {"text": context["text"]}
        return {"outputs": {t.name: t.flat() for t in outputs}, "context": context}


Handler = export(Hostile)
