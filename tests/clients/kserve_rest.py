"""KServe's Python SDK (InferenceRESTClient) against ferroserve: v2 and v1 over REST.

    kserve_rest.py BASE_URL DIGITS_TEST_JSON

v2 sends the scaled tensors straight to the model; v1 sends `{"instances": [...]}` of raw
8x8 images through the digits handler. Prints one JSON line with both accuracies.
"""
import asyncio
import json
import sys

import numpy as np
from kserve import InferInput, InferRequest, InferenceRESTClient, RESTConfig

base, test_file = sys.argv[1], sys.argv[2]
test = json.load(open(test_file))
labels = np.array(test["labels"])


async def main():
    v2 = InferenceRESTClient(RESTConfig(protocol="v2", retries=0))
    assert await v2.is_server_ready(base)
    assert await v2.is_model_ready(base, "digits")
    meta = await v2.get_model_metadata(base, "digits") if hasattr(v2, "get_model_metadata") else None
    images = np.array(test["images"], dtype=np.float32).reshape(-1, 1, 8, 8) / 16.0
    x = InferInput(name="input", shape=list(images.shape), datatype="FP32")
    x.set_data_from_numpy(images, binary_data=False)
    response = await v2.infer(base, InferRequest(model_name="digits", infer_inputs=[x]), model_name="digits")
    logits = response.outputs[0].as_numpy()
    v2_accuracy = float((logits.argmax(axis=1) == labels).mean())

    v1 = InferenceRESTClient(RESTConfig(protocol="v1", retries=0))
    instances = [{"image": image} for image in test["images"][:100]]
    reply = await v1.infer(base, {"instances": instances}, model_name="digits")
    digits = [p["digit"] for p in reply["predictions"]]
    v1_accuracy = float((np.array(digits) == labels[:100]).mean())
    print(json.dumps({"v2_accuracy": v2_accuracy, "v1_accuracy": v1_accuracy,
                      "v2_metadata": meta is not None}))


asyncio.run(main())
