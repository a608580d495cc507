#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/seeds/<target>/) from valid requests and a few
malformed ones, in the input formats of crates/fuzz-harness/src/targets.rs. Files named
ok-* must answer 2xx (the replay test checks it); the rest must answer with the property.
Run from anywhere: python3 fuzz/make_seeds.py"""
import json, os, struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")

def write(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def form(boundary, parts, crlf=b"\r\n"):
    out = b""
    for name, ct, body, filename in parts:
        out += b"--" + boundary + crlf
        disp = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename:
            disp += b'; filename="' + filename + b'"'
        out += disp + crlf
        if ct:
            out += b"Content-Type: " + ct + crlf
        out += crlf + body + crlf
    return out + b"--" + boundary + b"--" + crlf

# multipart: "<rest of the Content-Type>\n<body>"
B = b"XyZ123"
write("multipart", "ok-data", b"; boundary=XyZ123\n" + form(B, [(b"data", None, b"[1, 2, 3]", None)]))
write("multipart", "ok-body-json", b"; boundary=XyZ123\n" + form(B, [(b"body", b"application/json", b"[0.5]", None)]))
write("multipart", "ok-only-field", b'; boundary="a b"\n' + form(b"a b", [(b"x", None, b"[4]", b"in.json")]))
write("multipart", "ok-two-fields", b"; charset=utf-8; boundary=--q\n"
      + form(b"--q", [(b"meta", None, b"hello", None), (b"data", b"application/json", b"[7, 8]", None)]))
write("multipart", "no-boundary", b"\n" + form(B, [(b"data", None, b"[1]", None)]))
write("multipart", "unterminated", b"; boundary=XyZ123\n--XyZ123\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n[1")
write("multipart", "two-unnamed", b"; boundary=XyZ123\n" + form(B, [(b"a", None, b"[1]", None), (b"b", None, b"[2]", None)]))
write("multipart", "bad-json", b"; boundary=XyZ123\n" + form(B, [(b"data", None, b"[1, ", None)]))

# kserve_json: the body
def infer(inputs, **extra):
    return json.dumps(dict(inputs=inputs, **extra))
x = lambda dt, shape, data: {"name": "x", "datatype": dt, "shape": shape, "data": data}
write("kserve_json", "ok-fp32", infer([x("FP32", [1, 3], [1.0, 2.5, 3.0])]))
write("kserve_json", "ok-nested", infer([x("FP32", [2, 2], [[1, 2], [3, 4]])], id="r1",
      outputs=[{"name": "output"}]))
write("kserve_json", "ok-binary-out", infer([x("FP32", [1, 2], [1, 2])], parameters={"binary_data_output": True}))
write("kserve_json", "fp16", infer([x("FP16", [1, 2], [0.5, 1])]))
write("kserve_json", "int64", infer([x("INT64", [1, 2], [1, -2])]))
write("kserve_json", "bytes", infer([x("BYTES", [1, 1], ["abc"])]))
write("kserve_json", "bool", infer([x("BOOL", [1, 2], [True, False])]))
write("kserve_json", "u8-range", infer([x("UINT8", [1, 1], [256])]))
write("kserve_json", "count", infer([x("FP32", [2, 2], [1, 2, 3])]))
write("kserve_json", "negative", infer([x("FP32", [1, 1], [-1])]))
write("kserve_json", "no-data", infer([{"name": "x", "datatype": "FP32", "shape": [1]}]))
write("kserve_json", "two-inputs", infer([x("FP32", [1, 1], [1]), dict(x("FP32", [1, 1], [2]), name="y")]))
write("kserve_json", "empty", infer([]))
write("kserve_json", "not-json", "{\"inputs\": [")

# kserve_binary: "<Inference-Header-Content-Length>\n<body>"
def binary(header, blobs, length=None):
    h = json.dumps(header).encode()
    n = str(len(h) if length is None else length).encode()
    return n + b"\n" + h + b"".join(blobs)
f32 = lambda *v: struct.pack("<%df" % len(v), *v)
bin_in = lambda dt, shape, size, name="x": {"name": name, "datatype": dt, "shape": shape,
                                            "parameters": {"binary_data_size": size}}
write("kserve_binary", "ok-fp32", binary({"inputs": [bin_in("FP32", [1, 2], 8)]}, [f32(1, 2)]))
write("kserve_binary", "ok-binary-out", binary({"inputs": [bin_in("FP32", [2, 2], 16)],
      "parameters": {"binary_data_output": True}}, [f32(1, 2, 3, 4)]))
write("kserve_binary", "ok-mixed", binary({"inputs": [bin_in("FP32", [1, 1], 4)],
      "outputs": [{"name": "output", "parameters": {"binary_data": False}}]}, [f32(3)]))
write("kserve_binary", "ok-fp64-json-in", binary({"inputs": [x("FP32", [1, 1], [2])]}, []))
write("kserve_binary", "short", binary({"inputs": [bin_in("FP32", [1, 2], 8)]}, [f32(1)]))
write("kserve_binary", "trailing", binary({"inputs": [bin_in("FP32", [1, 1], 4)]}, [f32(1, 2)]))
write("kserve_binary", "huge-size", binary({"inputs": [bin_in("FP32", [1, 1], 2**64 - 1)]}, [f32(1)]))
write("kserve_binary", "bad-length", binary({"inputs": [bin_in("FP32", [1, 1], 4)]}, [f32(1)], length="-1"))
write("kserve_binary", "long-length", binary({"inputs": [bin_in("FP32", [1, 1], 4)]}, [f32(1)], length=9999))
write("kserve_binary", "int8", binary({"inputs": [bin_in("INT8", [1, 3], 3)]}, [b"\x01\x02\xff"]))

# query: lines of "<METHOD> <path?query>[\t<JSON body>]"
write("query", "ok-list", "GET /models?limit=10&next_page_token=0\n")
write("query", "ok-describe", "GET /models/echo\nGET /models/echo/all\nGET /models/echo/1.0\n")
write("query", "ok-register", "POST /models?url=echo-2.0.mar&batch_size=2&max_batch_delay=5&initial_workers=1&synchronous=true&response_timeout=30\n"
      "PUT /models/echo/2.0/set-default\nGET /models/echo\n")
write("query", "ok-register-json", 'POST /models\t{"url": "echo.mar", "model_name": "other", "batch_size": "2", "initial_workers": 1}\n'
      "POST /predictions/other\t[1, 2]\n")
write("query", "ok-scale", "PUT /models/echo?min_worker=1&max_worker=2&synchronous=true\nPUT /models/echo/1.0?min_worker=&number_gpu=0&timeout=-1\n")
write("query", "ok-predict", "POST /predictions/echo?temperature=0.5&k=\t[1, 2, 3]\nPUT /predictions/echo/1.0?x=%20y\t[4]\n")
write("query", "ok-unregister", "POST /models?url=echo.mar&model_name=gone\nDELETE /models/gone?synchronous=false&timeout=5\n")
write("query", "bad-number", "POST /models?url=echo.mar&model_name=n&batch_size=dd\n")
write("query", "bad-bool", "PUT /models/echo?synchronous=yes\n")
write("query", "unknown-param", "GET /models?limit=1&page=2\n")
write("query", "escape", "POST /models?url=..%2Fecho.mar\n")
write("query", "missing", "POST /models?model_name=x\n")
write("query", "explain", "GET /explanations/echo?x=1\n")
write("query", "options", "OPTIONS /predictions/echo\n")
