//! The methods of `GRPCInferenceService`. Health and metadata answer as the v2 REST routes
//! do (readiness is every model at its minimum of workers; a tenant's is its own models'),
//! `ModelInfer` and each message of `ModelStreamInfer` go through
//! `tensors::infer_batch`, and a model the caller cannot name is NOT_FOUND.

use std::pin::Pin;
use std::sync::Arc;

use ferroserve_core::tenancy::Principal;
use ferroserve_core::{Core, Manager, Model, Registry, tensors};
use futures_util::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::{codec, config, repository};
use crate::edge::caller;
use crate::pb::inference::grpc_inference_service_server::GrpcInferenceService;
use crate::pb::inference::model_metadata_response::TensorMetadata;
use crate::pb::inference::*;
use crate::status::status;

pub struct Service {
    registry: Registry,
    manager: Manager,
    model_api: bool,
}

impl Service {
    pub fn new(core: &Core) -> Service {
        Service {
            registry: core.manager.registry().clone(),
            manager: core.manager.clone(),
            model_api: core.config.model_api,
        }
    }
}

/// The model `name` (at `version`, else its default) in the caller's namespace.
pub(super) fn find(
    registry: &Registry,
    who: &Principal,
    name: &str,
    version: &str,
) -> Result<Arc<Model>, Status> {
    let version = Some(version).filter(|v| !v.is_empty());
    registry
        .get(&who.qualify(name), version)
        .map_err(|e| status(&e))
}

/// One inference request: decode, run, encode.
async fn infer(
    registry: &Registry,
    who: &Principal,
    mut request: ModelInferRequest,
) -> Result<ModelInferResponse, Status> {
    let model = find(registry, who, &request.model_name, &request.model_version)?;
    let inputs = codec::decode_inputs(&mut request)?;
    let wanted: Vec<String> = request.outputs.iter().map(|o| o.name.clone()).collect();
    let outputs = tensors::infer_batch(&model, inputs, &wanted)
        .await
        .map_err(|e| status(&e))?;
    let mut reply = ModelInferResponse {
        model_name: model.name().to_owned(),
        model_version: model.version.clone(),
        id: request.id,
        ..Default::default()
    };
    for t in outputs {
        let (meta, data) = codec::encode_output(t)?;
        reply.outputs.push(meta);
        reply.raw_output_contents.push(data.to_vec());
    }
    Ok(reply)
}

type StreamReplies = Pin<Box<dyn Stream<Item = Result<ModelStreamInferResponse, Status>> + Send>>;

#[tonic::async_trait]
impl GrpcInferenceService for Service {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        request: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        let who = caller(&request);
        let tenant = who.tenant().map(|t| t.name.as_str());
        let ready = self.registry.ready_for(tenant);
        Ok(Response::new(ServerReadyResponse { ready }))
    }

    async fn model_ready(
        &self,
        request: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let who = caller(&request);
        let r = request.into_inner();
        let model = find(&self.registry, &who, &r.name, &r.version)?;
        Ok(Response::new(ModelReadyResponse {
            ready: model.is_healthy(),
        }))
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse {
            name: "ferroserve".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec![
                "model_configuration".into(),
                "statistics".into(),
                "model_repository".into(),
            ],
        }))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let who = caller(&request);
        let r = request.into_inner();
        let model = find(&self.registry, &who, &r.name, &r.version)?;
        let meta = tensors::metadata(&self.registry, &model).map_err(|e| status(&e))?;
        let tensor = |t: &tensors::TensorMeta| TensorMetadata {
            name: t.name.clone(),
            datatype: t.datatype.clone(),
            shape: t.shape.clone(),
        };
        Ok(Response::new(ModelMetadataResponse {
            name: meta.name.clone(),
            versions: meta.versions.clone(),
            platform: meta.platform.to_owned(),
            inputs: meta.inputs.iter().map(tensor).collect(),
            outputs: meta.outputs.iter().map(tensor).collect(),
        }))
    }

    async fn model_infer(
        &self,
        request: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let who = caller(&request);
        let reply = infer(&self.registry, &who, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    type ModelStreamInferStream = StreamReplies;

    /// Each request of the stream is answered in order; a failed one is reported in its
    /// reply's `error_message` (Triton's way) and the stream goes on.
    async fn model_stream_infer(
        &self,
        request: Request<Streaming<ModelInferRequest>>,
    ) -> Result<Response<StreamReplies>, Status> {
        let who = caller(&request);
        let registry = self.registry.clone();
        let replies = request.into_inner().then(move |next| {
            let (registry, who) = (registry.clone(), who.clone());
            async move {
                let next = next?;
                Ok(match infer(&registry, &who, next).await {
                    Ok(reply) => ModelStreamInferResponse {
                        error_message: String::new(),
                        infer_response: Some(reply),
                    },
                    Err(s) => ModelStreamInferResponse {
                        error_message: s.message().to_owned(),
                        infer_response: None,
                    },
                })
            }
        });
        Ok(Response::new(Box::pin(replies)))
    }

    async fn model_config(
        &self,
        request: Request<ModelConfigRequest>,
    ) -> Result<Response<ModelConfigResponse>, Status> {
        let who = caller(&request);
        let r = request.into_inner();
        let model = find(&self.registry, &who, &r.name, &r.version)?;
        let meta = tensors::metadata(&self.registry, &model).map_err(|e| status(&e))?;
        Ok(Response::new(ModelConfigResponse {
            config: Some(config::model_config(&model, &meta)),
        }))
    }

    async fn model_statistics(
        &self,
        request: Request<ModelStatisticsRequest>,
    ) -> Result<Response<ModelStatisticsResponse>, Status> {
        let who = caller(&request);
        let r = request.into_inner();
        let models: Vec<Arc<Model>> = if r.name.is_empty() {
            let tenant = who.tenant().map(|t| t.name.as_str());
            self.registry.versions_of(tenant)
        } else if r.version.is_empty() {
            let versions = self
                .registry
                .versions(&who.qualify(&r.name))
                .map_err(|e| status(&e))?;
            versions.into_iter().map(|(m, _)| m).collect()
        } else {
            vec![find(&self.registry, &who, &r.name, &r.version)?]
        };
        Ok(Response::new(ModelStatisticsResponse {
            model_stats: models.iter().map(|m| config::statistics(m)).collect(),
        }))
    }

    async fn repository_index(
        &self,
        request: Request<RepositoryIndexRequest>,
    ) -> Result<Response<RepositoryIndexResponse>, Status> {
        let who = caller(&request);
        let ready_only = request.get_ref().ready;
        Ok(Response::new(repository::index(
            &self.manager,
            &who,
            ready_only,
        )))
    }

    async fn repository_model_load(
        &self,
        request: Request<RepositoryModelLoadRequest>,
    ) -> Result<Response<RepositoryModelLoadResponse>, Status> {
        let who = caller(&request);
        let r = request.into_inner();
        repository::load(&self.manager, self.model_api, &who, &r.model_name).await?;
        Ok(Response::new(RepositoryModelLoadResponse {}))
    }

    async fn repository_model_unload(
        &self,
        request: Request<RepositoryModelUnloadRequest>,
    ) -> Result<Response<RepositoryModelUnloadResponse>, Status> {
        let who = caller(&request);
        let r = request.into_inner();
        repository::unload(&self.manager, self.model_api, &who, &r.model_name).await?;
        Ok(Response::new(RepositoryModelUnloadResponse {}))
    }
}
