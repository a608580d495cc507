"""TorchServe's gRPC API through stubs generated here, at test time, by grpcio-tools from
ferroserve's own crates/grpc/proto/{inference,management}.proto, as a TorchServe user
generates them from TorchServe's. Runs register -> predict -> describe -> scale ->
set-default -> unregister and prints one JSON object of what came back.

    python torchserve_grpc.py PROTO_DIR OUT_DIR INFERENCE_ADDR MANAGEMENT_ADDR [TOKEN]
"""
import json
import os
import sys

import grpc
from grpc_tools import protoc
import grpc_tools

proto_dir, out_dir, inference_addr, management_addr = sys.argv[1:5]
token = sys.argv[5] if len(sys.argv) > 5 else None
well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
for name in ("inference.proto", "management.proto", "google/rpc/status.proto"):
    code = protoc.main(["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out_dir}",
                        f"--grpc_python_out={out_dir}", os.path.join(proto_dir, name)])
    assert code == 0, f"protoc failed on {name}"
sys.path.insert(0, out_dir)
import inference_pb2, inference_pb2_grpc, management_pb2, management_pb2_grpc  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402

metadata = [("authorization", f"Bearer {token}")] if token else []
inference = inference_pb2_grpc.InferenceAPIsServiceStub(grpc.insecure_channel(inference_addr))
management = management_pb2_grpc.ManagementAPIsServiceStub(grpc.insecure_channel(management_addr))
out = {}


def error(call):
    try:
        call()
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details()}
    return None


out["ping"] = json.loads(inference.Ping(empty_pb2.Empty(), metadata=metadata).health)
out["register"] = management.RegisterModel(management_pb2.RegisterModelRequest(
    url="mlp.mar", initial_workers=1, synchronous=True), metadata=metadata).msg
out["register2"] = management.RegisterModel(management_pb2.RegisterModelRequest(
    url="mlp-2.0.mar", initial_workers=1, synchronous=True), metadata=metadata).msg
reply, call = inference.Predictions.with_call(inference_pb2.PredictionsRequest(
    model_name="mlp", input={"data": b"[1, 2, 3, 4]"}), metadata=metadata + [("x-request-id", "ts-grpc-1")])
out["predict"] = json.loads(reply.prediction)
out["request_id"] = dict(call.initial_metadata()).get("x-request-id")
out["stream"] = [json.loads(r.prediction) for r in inference.StreamPredictions(
    inference_pb2.PredictionsRequest(model_name="mlp", model_version="2.0",
                                     input={"data": b"[1, 2, 3, 4]"}), metadata=metadata)]
out["describe"] = json.loads(management.DescribeModel(management_pb2.DescribeModelRequest(
    model_name="mlp", model_version="all"), metadata=metadata).msg)
out["list"] = json.loads(management.ListModels(management_pb2.ListModelsRequest(), metadata=metadata).msg)
out["scale"] = management.ScaleWorker(management_pb2.ScaleWorkerRequest(
    model_name="mlp", min_worker=2, max_worker=2, synchronous=True), metadata=metadata).msg
out["set_default"] = management.SetDefault(management_pb2.SetDefaultRequest(
    model_name="mlp", model_version="2.0"), metadata=metadata).msg
out["unregister"] = management.UnregisterModel(management_pb2.UnregisterModelRequest(
    model_name="mlp", model_version="1.0"), metadata=metadata).msg
out["unknown_model"] = error(lambda: inference.Predictions(inference_pb2.PredictionsRequest(
    model_name="nope", input={"data": b"[1]"}), metadata=metadata))
out["bad_input"] = error(lambda: inference.Predictions(inference_pb2.PredictionsRequest(
    model_name="mlp", input={"data": b"not json"}), metadata=metadata))
out["no_token"] = error(lambda: management.ListModels(management_pb2.ListModelsRequest()))
print(json.dumps(out))
