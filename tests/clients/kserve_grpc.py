"""KServe's own InferenceGRPCClient (kserve 0.21) against ferroserve's v2 gRPC service:
one batch of the digits example's held-out images, predicted. Prints one JSON object.
(Never import tritonclient in this process: both register the protobuf package
`inference`.)

    python kserve_grpc.py ADDR DIGITS_TEST_JSON
"""
import asyncio
import json
import sys

import numpy as np
from kserve import InferenceGRPCClient, InferInput, InferRequest

addr, test_json = sys.argv[1:3]
test = json.load(open(test_json))
images = np.array(test["images"][:40], dtype=np.float32).reshape(-1, 1, 8, 8) / 16.0
labels = np.array(test["labels"][:40])


async def main():
    client = InferenceGRPCClient(url=addr, verbose=False, use_ssl=False, timeout=60)
    live = await client.is_server_live()
    ready = await client.is_model_ready("digits")
    i = InferInput(name="input", shape=list(images.shape), datatype="FP32")
    i.set_data_from_numpy(images, binary_data=True)
    response = await client.infer(InferRequest(model_name="digits", infer_inputs=[i],
                                               request_id="kserve-1"))
    output = response.outputs[0]
    logits = output.as_numpy()
    await client.close()
    return {"live": live, "ready": ready, "id": response.id, "name": output.name,
            "shape": list(output.shape), "accuracy": float((logits.argmax(1) == labels).mean())}


print(json.dumps(asyncio.run(main())))
