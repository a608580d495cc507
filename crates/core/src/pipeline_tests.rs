//! The pipeline over fakes on both seams (a `Processor` instead of the wasm sandbox, a
//! `BatchRunner` instead of libtorch): the request path and what its observer is told.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferroserve_batcher::{BatchRunner, Batcher, BatcherConfig, RunError};
use ferroserve_sandbox::{HandlerRequest, HandlerResponse, Prepared, SandboxError};
use ferroserve_tensor::Tensor;

use crate::observe::{Observer, Outcome, Stage};
use crate::{Class, Pipeline, Processor};

/// The body is a little-endian f32 list; the response is the first output's bytes, with
/// the status the request's `status` parameter names.
struct Bytes4;

#[async_trait::async_trait]
impl Processor for Bytes4 {
    async fn preprocess(&self, request: HandlerRequest) -> Result<Prepared, SandboxError> {
        if request.body.is_empty() {
            return Err(SandboxError::BadInput("send at least one f32".into()));
        }
        let input = Tensor::new(
            "x",
            ferroserve_tensor::DType::F32,
            vec![request.body.len() as u64 / 4],
            request.body.clone(),
        )
        .map_err(|e| SandboxError::BadInput(e.to_string()))?;
        // The last wins: the archive's parameters come first, the query's after them.
        let status = request
            .parameters
            .iter()
            .rev()
            .find(|(k, _)| k == "status")
            .map_or(200, |(_, v)| v.parse().unwrap());
        Ok(Prepared {
            inputs: vec![input],
            context: u16::to_le_bytes(status).to_vec(),
        })
    }

    async fn postprocess(
        &self,
        outputs: Vec<Tensor>,
        context: Vec<u8>,
    ) -> Result<HandlerResponse, SandboxError> {
        Ok(HandlerResponse {
            body: outputs[0].data().clone(),
            content_type: "application/octet-stream".into(),
            status: u16::from_le_bytes([context[0], context[1]]),
            headers: Vec::new(),
        })
    }
}

/// Negates; fails on an empty-looking (all zero) input.
struct Negate;

impl BatchRunner for Negate {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        let values = inputs[0].to_f32().unwrap();
        if values.iter().all(|v| *v == 0.0) {
            return Err(RunError::new("zeros"));
        }
        let out: Vec<f32> = values.iter().map(|v| -v).collect();
        Ok(vec![
            Tensor::from_f32("y", inputs[0].shape().to_vec(), &out).unwrap(),
        ])
    }
}

#[derive(Default)]
struct Seen(Mutex<(Vec<Stage>, Vec<Outcome>)>);

impl Observer for Seen {
    fn stage(&self, stage: Stage, _: Duration) {
        self.0.lock().unwrap().0.push(stage);
    }
    fn batch(&self, _: usize) {}
    fn finished(&self, outcome: Outcome) {
        self.0.lock().unwrap().1.push(outcome);
    }
}

fn f32s(values: &[f32]) -> bytes::Bytes {
    values
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect::<Vec<u8>>()
        .into()
}

fn request(values: &[f32], status: Option<&str>) -> HandlerRequest {
    HandlerRequest {
        body: f32s(values),
        parameters: status
            .map(|s| ("status".into(), s.into()))
            .into_iter()
            .collect(),
        ..HandlerRequest::default()
    }
}

#[tokio::test]
async fn any_processor_and_runner_plug_into_the_pipeline() {
    let seen = Arc::new(Seen::default());
    let batcher = Batcher::spawn(BatcherConfig::new("negate"), Arc::new(Negate)).unwrap();
    let p = Pipeline::new(Arc::new(Bytes4), batcher, Duration::from_secs(5))
        .observed_by(seen.clone())
        .with_params(vec![("status".into(), "201".into())]);
    let ok = p.infer(request(&[1.0, -2.0], None)).await.unwrap();
    assert_eq!(
        (ok.status, ok.body),
        (201, f32s(&[-1.0, 2.0])),
        "archive params reach it"
    );
    let own = p.infer(request(&[1.0], Some("404"))).await.unwrap();
    assert_eq!(
        own.status, 404,
        "the query's parameters come after the archive's"
    );
    let bad = p.infer(request(&[], None)).await.unwrap_err();
    assert_eq!(
        (bad.class(), &*bad.kind()),
        (Class::BadRequest, "HandlerBadInput")
    );
    let failed = p.infer(request(&[0.0], None)).await.unwrap_err();
    assert_eq!(
        (failed.class(), &*failed.kind()),
        (Class::Internal, "ModelForwardError")
    );
    let (stages, outcomes) = seen.0.lock().unwrap().clone();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Ok,
            Outcome::ClientError,
            Outcome::ClientError,
            Outcome::ServerError
        ]
    );
    assert_eq!(stages.iter().filter(|s| **s == Stage::Total).count(), 4);
    // Forward time is reported for the two batches that ran: the bad input never reached
    // the model, and the failed batch reports none.
    assert_eq!(stages.iter().filter(|s| **s == Stage::Inference).count(), 2);
}
