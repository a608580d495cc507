"""tritonclient.http with its defaults (binary tensors) against ferroserve's KServe v2 REST.

    triton_http.py HOST:PORT DIGITS_TEST_JSON

Checks health, metadata, config, infer and async_infer on the held-out digits (argmax),
statistics, the repository index, and that a bad request's error is decoded by the client.
Prints one JSON line of findings; any failed check raises (exit 1).
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

url, test_file = sys.argv[1], sys.argv[2]
test = json.load(open(test_file))
images = np.array(test["images"], dtype=np.float32).reshape(-1, 1, 8, 8) / 16.0
labels = np.array(test["labels"])

client = httpclient.InferenceServerClient(url, concurrency=4)
assert client.is_server_live()
assert client.is_server_ready()
assert client.is_model_ready("digits")
server = client.get_server_metadata()
assert server["name"] == "ferroserve", server
assert "binary_tensor_data" in server["extensions"], server
meta = client.get_model_metadata("digits")
(inp,) = meta["inputs"]
(out,) = meta["outputs"]
assert inp["shape"] == [-1, 1, 8, 8], meta
assert out["datatype"] == "FP32" and out["shape"] == [-1, 10], meta
config = client.get_model_config("digits")
assert config["input"][0]["data_type"] == "TYPE_FP32", config
assert config["output"][0]["dims"] == [10], config


def request(batch):
    x = httpclient.InferInput(inp["name"], list(batch.shape), "FP32")
    x.set_data_from_numpy(batch)  # binary_data=True: tritonclient's default
    return [x], [httpclient.InferRequestedOutput(out["name"])]


# Synchronous, in batches of 50.
predicted = []
for start in range(0, len(images), 50):
    inputs, outputs = request(images[start : start + 50])
    result = client.infer("digits", inputs, outputs=outputs)
    predicted.extend(result.as_numpy(out["name"]).argmax(axis=1))
sync_accuracy = float((np.array(predicted) == labels).mean())

# Asynchronous: every image its own request, four in flight, no outputs named (so the
# client asks for all of them in binary).
pending = []
for i in range(len(images)):
    x = httpclient.InferInput(inp["name"], [1, 1, 8, 8], "FP32")
    x.set_data_from_numpy(images[i : i + 1])
    pending.append(client.async_infer("digits", [x], request_id=str(i)))
async_predicted = [p.get_result().as_numpy(out["name"]).argmax(axis=1)[0] for p in pending]
async_accuracy = float((np.array(async_predicted) == labels).mean())

stats = client.get_inference_statistics("digits")["model_stats"][0]
assert stats["inference_count"] >= 2 * len(images), stats
assert stats["inference_stats"]["success"]["count"] >= len(images), stats

index = client.get_model_repository_index()
assert [m["name"] for m in index] == ["digits"], index

errors = {}
bad = httpclient.InferInput(inp["name"], [1, 64], "FP32")
bad.set_data_from_numpy(np.zeros((1, 64), dtype=np.float32))
try:
    client.infer("digits", [bad])
    raise AssertionError("a wrongly shaped input was accepted")
except InferenceServerException as e:
    errors["shape"] = [e.status(), e.message()]
try:
    client.get_model_metadata("nope")
    raise AssertionError("an unknown model was found")
except InferenceServerException as e:
    errors["unknown"] = [e.status(), e.message()]
wrong = httpclient.InferInput(inp["name"], [1, 1, 8, 8], "INT64")
wrong.set_data_from_numpy(np.zeros((1, 1, 8, 8), dtype=np.int64))
try:
    client.infer("digits", [wrong])
    raise AssertionError("a wrong dtype was accepted")
except InferenceServerException as e:
    errors["dtype"] = [e.status(), e.message()]
client.close()

print(json.dumps({"sync_accuracy": sync_accuracy, "async_accuracy": async_accuracy,
                  "inference_count": stats["inference_count"], "errors": errors}))
