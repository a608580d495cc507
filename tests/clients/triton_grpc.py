"""tritonclient.grpc against ferroserve's KServe v2 / Triton gRPC service: health,
metadata, config, infer and async_infer on the digits example's held-out images,
statistics, and refusals decoded as InferenceServerException. Prints one JSON object.
(Never import kserve in this process: both register the protobuf package `inference`.)

    python triton_grpc.py ADDR DIGITS_TEST_JSON [TOKEN]
"""
import json
import queue
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

addr, test_json = sys.argv[1:3]
token = sys.argv[3] if len(sys.argv) > 3 else None
headers = {"authorization": f"Bearer {token}"} if token else None
client = grpcclient.InferenceServerClient(url=addr)
test = json.load(open(test_json))
images = np.array(test["images"], dtype=np.float32).reshape(-1, 1, 8, 8) / 16.0
labels = np.array(test["labels"])
out = {}


def refusal(call):
    try:
        call()
    except InferenceServerException as e:
        return {"status": e.status(), "message": e.message()}
    return None


def digits_input(batch):
    i = grpcclient.InferInput("input", list(batch.shape), "FP32")
    i.set_data_from_numpy(batch)
    return i


out["live"] = client.is_server_live(headers=headers)
out["ready"] = client.is_server_ready(headers=headers)
out["model_ready"] = client.is_model_ready("digits", headers=headers)
out["server_metadata"] = client.get_server_metadata(headers=headers, as_json=True)
out["model_metadata"] = client.get_model_metadata("digits", headers=headers, as_json=True)
out["model_config"] = client.get_model_config("digits", headers=headers, as_json=True)

# Synchronous infer in batches of 50, then async_infer in batches of 25.
predicted = np.zeros(len(labels), dtype=np.int64)
for start in range(0, len(images), 50):
    batch = images[start:start + 50]
    result = client.infer("digits", [digits_input(batch)],
                          outputs=[grpcclient.InferRequestedOutput("output")], headers=headers)
    predicted[start:start + len(batch)] = result.as_numpy("output").argmax(1)
out["accuracy"] = float((predicted == labels).mean())
out["n"] = int(len(labels))

answers = queue.Queue()
starts = list(range(0, len(images), 25))
for start in starts:
    client.async_infer("digits", [digits_input(images[start:start + 25])],
                       callback=lambda result, error, s=start: answers.put((s, result, error)),
                       headers=headers)
async_predicted = np.zeros(len(labels), dtype=np.int64)
for _ in starts:
    start, result, error = answers.get(timeout=120)
    assert error is None, error
    logits = result.as_numpy("output")
    async_predicted[start:start + len(logits)] = logits.argmax(1)
out["async_accuracy"] = float((async_predicted == labels).mean())

out["statistics"] = client.get_inference_statistics("digits", headers=headers, as_json=True)

# Refusals: the raw bytes one element short of the shape; an unknown model; BYTES.
short = digits_input(images[:2])
short._raw_content = short._raw_content[:-4]
out["malformed"] = refusal(lambda: client.infer("digits", [short], headers=headers))
out["unknown_model"] = refusal(lambda: client.infer("nope", [digits_input(images[:1])], headers=headers))
text = grpcclient.InferInput("input", [1], "BYTES")
text.set_data_from_numpy(np.array([b"seven"], dtype=np.object_))
out["bytes"] = refusal(lambda: client.infer("digits", [text], headers=headers))
wrong_dtype = grpcclient.InferInput("input", [1, 1, 8, 8], "INT64")
wrong_dtype.set_data_from_numpy(np.zeros((1, 1, 8, 8), dtype=np.int64))
out["wrong_dtype"] = refusal(lambda: client.infer("digits", [wrong_dtype], headers=headers))
wrong_shape = digits_input(np.zeros((1, 64), dtype=np.float32))
out["wrong_shape"] = refusal(lambda: client.infer("digits", [wrong_shape], headers=headers))
huge = grpcclient.InferInput("input", [1 << 40, 1 << 40], "FP32")
huge._raw_content = b"\0" * 16
out["huge_shape"] = refusal(lambda: client.infer("digits", [huge], headers=headers))
out["no_token"] = refusal(lambda: client.is_model_ready("digits"))
out["wrong_token"] = refusal(lambda: client.is_model_ready(
    "digits", headers={"authorization": "Bearer not-a-token"}))
# And a good request still answers.
after = client.infer("digits", [digits_input(images[:1])], headers=headers)
out["after"] = int(after.as_numpy("output").argmax(1)[0])
out["after_label"] = int(labels[0])
print(json.dumps(out))
