//! KServe v2 / Triton's GRPCInferenceService in process, over fake models: raw and typed
//! tensors, the stream, statistics, the repository methods, and refusals by code.

mod common;

use common::TestGrpc;
use ferroserve_grpc::pb::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use ferroserve_grpc::pb::inference::model_infer_request::InferInputTensor;
use ferroserve_grpc::pb::inference::*;
use tonic::Code;
use tonic::transport::Channel;

fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn raw_request(model: &str, shape: &[i64], values: &[f32]) -> ModelInferRequest {
    ModelInferRequest {
        model_name: model.into(),
        id: "r1".into(),
        inputs: vec![InferInputTensor {
            name: "x".into(),
            datatype: "FP32".into(),
            shape: shape.to_vec(),
            ..Default::default()
        }],
        raw_input_contents: vec![f32s(values)],
        ..Default::default()
    }
}

async fn with_echo() -> (TestGrpc, GrpcInferenceServiceClient<Channel>) {
    let t = TestGrpc::open().await;
    let mut v2 = GrpcInferenceServiceClient::new(t.inference.clone());
    v2.repository_model_load(RepositoryModelLoadRequest {
        model_name: "echo".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    (t, v2)
}

#[tokio::test]
async fn raw_and_typed_inputs_infer_and_reply_in_raw_output_contents() {
    let (_t, mut v2) = with_echo().await;
    let reply = v2
        .model_infer(raw_request("echo", &[2, 2], &[1., 2., 3., 4.]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (reply.model_name.as_str(), reply.id.as_str()),
        ("echo", "r1")
    );
    assert_eq!(reply.outputs[0].shape, vec![2, 2]);
    assert_eq!(reply.outputs[0].datatype, "FP32");
    assert_eq!(reply.raw_output_contents[0], f32s(&[2., 4., 6., 8.]));

    let mut typed = raw_request("echo", &[1, 2], &[]);
    typed.raw_input_contents.clear();
    typed.inputs[0].contents = Some(InferTensorContents {
        fp32_contents: vec![5., 6.],
        ..Default::default()
    });
    let reply = v2.model_infer(typed).await.unwrap().into_inner();
    assert_eq!(reply.raw_output_contents[0], f32s(&[10., 12.]));
}

#[tokio::test]
async fn bad_tensors_and_unknown_models_are_refused_and_the_server_goes_on() {
    let (_t, mut v2) = with_echo().await;
    let mut short = raw_request("echo", &[2, 2], &[1., 2., 3., 4.]);
    short.raw_input_contents[0].truncate(12);
    let e = v2.model_infer(short).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("\"x\""), "{e:?}");
    let huge = raw_request("echo", &[1 << 40, 1 << 40], &[1.]);
    assert_eq!(
        v2.model_infer(huge).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let e = v2
        .model_infer(raw_request("nope", &[1], &[1.]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = v2
        .model_ready(ModelReadyRequest {
            name: "nope".into(),
            version: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    v2.model_infer(raw_request("echo", &[1, 1], &[1.]))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_stream_answers_each_request_in_order() {
    let (_t, mut v2) = with_echo().await;
    let requests = vec![
        raw_request("echo", &[1, 1], &[1.]),
        raw_request("nope", &[1, 1], &[1.]),
        raw_request("echo", &[1, 1], &[3.]),
    ];
    let mut replies = v2
        .model_stream_infer(futures_util::stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(r) = replies.message().await.unwrap() {
        got.push(r);
    }
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0].infer_response.as_ref().unwrap().raw_output_contents[0],
        f32s(&[2.])
    );
    assert!(got[1].error_message.contains("nope"), "{:?}", got[1]);
    assert_eq!(
        got[2].infer_response.as_ref().unwrap().raw_output_contents[0],
        f32s(&[6.])
    );
}

#[tokio::test]
async fn metadata_config_statistics_and_the_repository() {
    let (_t, mut v2) = with_echo().await;
    v2.model_infer(raw_request("echo", &[3, 1], &[1., 2., 3.]))
        .await
        .unwrap();
    let live = v2
        .server_live(ServerLiveRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(live.live);
    let meta = v2
        .server_metadata(ServerMetadataRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(meta.name, "ferroserve");
    let m = v2
        .model_metadata(ModelMetadataRequest {
            name: "echo".into(),
            version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (m.name.as_str(), m.versions.clone()),
        ("echo", vec!["1.0".to_string()])
    );
    let c = v2
        .model_config(ModelConfigRequest {
            name: "echo".into(),
            version: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .config
        .unwrap();
    assert_eq!(c.name, "echo");
    assert!(c.dynamic_batching.is_some());
    let stats = v2
        .model_statistics(ModelStatisticsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let echo = stats.model_stats.iter().find(|s| s.name == "echo").unwrap();
    assert_eq!(echo.inference_count, 3, "three samples: {echo:?}");
    assert_eq!(
        echo.inference_stats
            .as_ref()
            .unwrap()
            .success
            .unwrap()
            .count,
        3
    );

    let index = v2
        .repository_index(RepositoryIndexRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(index.models.len(), 1);
    assert_eq!(
        (
            index.models[0].name.as_str(),
            index.models[0].state.as_str()
        ),
        ("echo", "READY")
    );
    let e = v2
        .repository_model_load(RepositoryModelLoadRequest {
            model_name: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    v2.repository_model_unload(RepositoryModelUnloadRequest {
        model_name: "echo".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let e = v2
        .model_infer(raw_request("echo", &[1, 1], &[1.]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test]
async fn a_method_not_served_is_unimplemented() {
    let t = TestGrpc::open().await;
    // The management listener serves no v2 methods.
    let mut wrong = GrpcInferenceServiceClient::new(t.management.clone());
    let e = wrong.server_live(ServerLiveRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    assert!(e.message().contains("ManagementAPIsService"), "{e:?}");
}
