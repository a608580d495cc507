//! TorchServe's `InferenceAPIsService`. `Predictions` runs the model's handler pipeline
//! exactly as REST's `POST /predictions/{m}[/{v}]` does. TorchServe hands every entry of
//! the request's `input` map to its handler, whose default reads `data` or `body`; here
//! the handler's body is the `data` (else `body`, else the only) entry, the other entries
//! are the handler's parameters (as a query's would be), and the call's ASCII metadata
//! its headers (never credentials). `StreamPredictions` answers with one message (a
//! handler makes one response); `StreamPredictions2` answers each request of the stream
//! in order, errors in the message's `status` as TorchServe does.

use std::collections::HashMap;
use std::pin::Pin;

use bytes::Bytes;
use ferroserve_core::Registry;
use ferroserve_core::describe::Health;
use ferroserve_core::tenancy::Principal;
use ferroserve_sandbox::HandlerRequest;
use futures_util::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::edge::caller;
use crate::pb::google::rpc;
use crate::pb::ts_inference::inference_ap_is_service_server::InferenceApIsService;
use crate::pb::ts_inference::{PredictionResponse, PredictionsRequest, TorchServeHealthResponse};
use crate::status::{Refusal, status};

pub struct Inference {
    registry: Registry,
}

impl Inference {
    pub fn new(registry: Registry) -> Inference {
        Inference { registry }
    }
}

type Replies = Pin<Box<dyn Stream<Item = Result<PredictionResponse, Status>> + Send>>;

#[tonic::async_trait]
impl InferenceApIsService for Inference {
    async fn ping(
        &self,
        request: Request<()>,
    ) -> Result<Response<TorchServeHealthResponse>, Status> {
        let health = Health::seen_by(&self.registry, &caller(&request));
        let health = serde_json::to_string_pretty(&health).expect("serializable");
        Ok(Response::new(TorchServeHealthResponse { health }))
    }

    async fn predictions(
        &self,
        request: Request<PredictionsRequest>,
    ) -> Result<Response<PredictionResponse>, Status> {
        let (who, headers) = (caller(&request), handler_headers(request.metadata()));
        let prediction = predict(&self.registry, &who, headers, request.into_inner()).await?;
        Ok(Response::new(PredictionResponse {
            prediction,
            ..Default::default()
        }))
    }

    type StreamPredictionsStream = Replies;

    async fn stream_predictions(
        &self,
        request: Request<PredictionsRequest>,
    ) -> Result<Response<Replies>, Status> {
        let reply = self.predictions(request).await?.into_inner();
        Ok(Response::new(Box::pin(futures_util::stream::iter([Ok(
            reply,
        )]))))
    }

    type StreamPredictions2Stream = Replies;

    async fn stream_predictions2(
        &self,
        request: Request<Streaming<PredictionsRequest>>,
    ) -> Result<Response<Replies>, Status> {
        let (who, headers) = (caller(&request), handler_headers(request.metadata()));
        let registry = self.registry.clone();
        let replies = request.into_inner().then(move |next| {
            let (registry, who, headers) = (registry.clone(), who.clone(), headers.clone());
            async move {
                let next = next?;
                let sequence_id = next.sequence_id.clone();
                let answer = match sequence_id.as_deref() {
                    None | Some("") => Err(Refusal::Invalid(
                        "StreamPredictions2 needs sequenceId on every request".into(),
                    )
                    .status()),
                    // The edge's quota permit covered the call until its response head;
                    // each message of the stream then takes its own.
                    Some(_) => match who.admit().await {
                        Ok(_permit) => predict(&registry, &who, headers, next).await,
                        Err(e) => Err(status(&e)),
                    },
                };
                Ok(match answer {
                    Ok(prediction) => PredictionResponse {
                        prediction,
                        sequence_id,
                        status: None,
                    },
                    Err(s) => PredictionResponse {
                        prediction: Vec::new(),
                        sequence_id,
                        status: Some(rpc::Status {
                            code: s.code() as i32,
                            message: s.message().to_owned(),
                            details: Vec::new(),
                        }),
                    },
                })
            }
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

/// One request through the model's pipeline; the handler's response body.
async fn predict(
    registry: &Registry,
    who: &Principal,
    headers: Vec<(String, String)>,
    request: PredictionsRequest,
) -> Result<Vec<u8>, Status> {
    if request.model_name.is_empty() {
        return Err(Refusal::Invalid("model_name is required".into()).status());
    }
    let version = Some(request.model_version.as_str()).filter(|v| !v.is_empty());
    let model = registry
        .get(&who.qualify(&request.model_name), version)
        .map_err(|e| status(&e))?;
    let (body, parameters) = payload(request.input)?;
    let request = HandlerRequest {
        body,
        content_type: None,
        headers,
        parameters,
        fields: Vec::new(),
    };
    let response = model
        .pipeline
        .infer(request)
        .await
        .map_err(|e| status(&e))?;
    Ok(response.body.to_vec())
}

/// The handler's body (`data`, else `body`, else the only entry) and the other entries as
/// parameters (those that are UTF-8).
fn payload(mut input: HashMap<String, Vec<u8>>) -> Result<(Bytes, Vec<(String, String)>), Status> {
    let key = match ["data", "body"]
        .into_iter()
        .find(|k| input.contains_key(*k))
    {
        Some(k) => k.to_owned(),
        None if input.len() == 1 => input.keys().next().expect("one").clone(),
        None => {
            let mut names: Vec<&String> = input.keys().collect();
            names.sort();
            return Err(Refusal::Invalid(format!(
                "the request's input has entries {names:?}; put the handler's input under \"data\" (or \"body\")"
            ))
            .status());
        }
    };
    let body = Bytes::from(input.remove(&key).expect("found above"));
    let mut parameters: Vec<(String, String)> = input
        .into_iter()
        .filter_map(|(k, v)| Some((k, String::from_utf8(v).ok()?)))
        .collect();
    parameters.sort();
    Ok((body, parameters))
}

/// The metadata a handler may see: ASCII values, never credentials or gRPC's own.
fn handler_headers(metadata: &tonic::metadata::MetadataMap) -> Vec<(String, String)> {
    metadata
        .clone()
        .into_headers()
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            !matches!(n, "authorization" | "cookie" | "content-type" | "te")
                && !n.starts_with("grpc-")
        })
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &[u8])]) -> HashMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect()
    }

    #[test]
    fn data_is_the_body_and_the_rest_are_parameters() {
        let (body, params) = payload(map(&[("data", b"[1]"), ("topk", b"3")])).unwrap();
        assert_eq!(&body[..], b"[1]");
        assert_eq!(params, vec![("topk".to_string(), "3".to_string())]);
        let (body, _) = payload(map(&[("image", b"png")])).unwrap();
        assert_eq!(&body[..], b"png");
    }

    #[test]
    fn several_entries_without_data_are_refused_by_name() {
        let e = payload(map(&[("a", b"1"), ("b", b"2")])).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("\"data\""), "{e:?}");
    }
}
