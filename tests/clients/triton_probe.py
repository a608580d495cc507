"""One tritonclient.grpc call against ferroserve, for the refusal tests; prints one JSON
object: {"ok": value} or {"status": "StatusCode.X", "message": ...}.

    python triton_probe.py ADDR TOKEN|- ready MODEL
    python triton_probe.py ADDR TOKEN|- mlp MODEL N     (an FP32 [1, N] input; mlp takes N = 4)
"""
import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

addr, token, mode, model = sys.argv[1:5]
headers = {"authorization": f"Bearer {token}"} if token != "-" else None
client = grpcclient.InferenceServerClient(url=addr)
try:
    if mode == "ready":
        out = {"ok": client.is_model_ready(model, headers=headers)}
        if out["ok"] is False:
            # is_model_ready swallows errors into False; metadata says why.
            client.get_model_metadata(model, headers=headers)
    else:
        n = int(sys.argv[5])
        i = grpcclient.InferInput("input", [1, n], "FP32")
        i.set_data_from_numpy(np.arange(n, dtype=np.float32).reshape(1, n))
        result = client.infer(model, [i], headers=headers)
        out = {"ok": result.as_numpy("output").tolist()}
except InferenceServerException as e:
    out = {"status": e.status(), "message": e.message()}
print(json.dumps(out))
