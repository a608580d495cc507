//! TorchServe's `ManagementAPIsService` over the core's `Manager`. Each reply is
//! `ManagementResponse{msg}` with what TorchServe's gRPC sends: the status sentence for
//! register, scale, set-default and unregister (REST wraps the same sentence in
//! `{"status": …}`), and pretty JSON for describe and list (REST's objects, from
//! `ferroserve_core::describe`). As in TorchServe's gRPC, `synchronous` defaults to false
//! and int32 parameters of 0 mean the default. Registration names an archive (`url`: a
//! model-store file or an allowed URL); uploading one is REST's.

use ferroserve_core::describe::{describe, list_models, sentences};
use ferroserve_core::{Core, Manager, Register};
use serde::Serialize;
use tonic::{Request, Response, Status};

use super::{given, positive};
use crate::edge::caller;
use crate::pb::ts_management::management_ap_is_service_server::ManagementApIsService;
use crate::pb::ts_management::{
    DescribeModelRequest, ListModelsRequest, ManagementResponse, RegisterModelRequest,
    ScaleWorkerRequest, SetDefaultRequest, UnregisterModelRequest,
};
use crate::status::{Refusal, status};

pub struct Management {
    manager: Manager,
    model_api: bool,
}

impl Management {
    pub fn new(core: &Core) -> Management {
        Management {
            manager: core.manager.clone(),
            model_api: core.config.model_api,
        }
    }
}

type Reply = Result<Response<ManagementResponse>, Status>;

fn reply(msg: String) -> Reply {
    Ok(Response::new(ManagementResponse { msg }))
}

fn pretty(value: &impl Serialize) -> Reply {
    reply(serde_json::to_string_pretty(value).expect("serializable"))
}

fn named(name: &str) -> Result<&str, Status> {
    given(name).ok_or_else(|| Refusal::Invalid("model_name is required".into()).status())
}

#[tonic::async_trait]
impl ManagementApIsService for Management {
    async fn describe_model(&self, request: Request<DescribeModelRequest>) -> Reply {
        let who = caller(&request);
        let r = request.into_inner();
        let registry = self.manager.registry();
        let key = who.qualify(named(&r.model_name)?);
        // `customized` asks the handler for metadata; handlers have no such entry point,
        // so the description is the same.
        let described: Vec<_> = if r.model_version == "all" {
            let versions = registry.versions(&key).map_err(|e| status(&e))?;
            versions.iter().map(|(m, d)| describe(m, *d)).collect()
        } else {
            let model = registry
                .get(&key, given(&r.model_version))
                .map_err(|e| status(&e))?;
            vec![describe(&model, registry.is_default(&model))]
        };
        pretty(&described)
    }

    async fn list_models(&self, request: Request<ListModelsRequest>) -> Reply {
        let who = caller(&request);
        let r = request.into_inner();
        let tenant = who.tenant().map(|t| t.name.as_str());
        let limit = positive(r.limit).map(|n| n as i64);
        let start = u64::try_from(r.next_page_token).unwrap_or(0);
        pretty(&list_models(self.manager.registry(), tenant, limit, start))
    }

    async fn register_model(&self, request: Request<RegisterModelRequest>) -> Reply {
        if !self.model_api {
            return Err(Refusal::ModelApiDisabled.status());
        }
        let who = caller(&request);
        let r = request.into_inner();
        let Some(url) = given(&r.url) else {
            return Err(Refusal::Invalid(
                "url is required: name a .mar file in the model store or an allowed URL (to \
                 upload an archive, use the REST management API)"
                    .into(),
            )
            .status());
        };
        let register = Register {
            url: Some(url.to_owned()),
            model_name: given(&r.model_name).map(str::to_owned),
            batch_size: positive(r.batch_size),
            max_batch_delay_ms: positive(r.max_batch_delay).map(|n| n as u64),
            initial_workers: positive(r.initial_workers),
            response_timeout_s: positive(r.response_timeout).map(|n| n as u64),
        };
        let model = self
            .manager
            .register(&who, register, ferroserve_core::no_bytes())
            .await
            .map_err(|e| status(&e))?;
        let workers = model.pipeline.batcher().stats().workers;
        reply(if workers != 0 && !r.synchronous {
            sentences::PROCESSING.to_owned()
        } else {
            sentences::registered(&model, workers)
        })
    }

    async fn scale_worker(&self, request: Request<ScaleWorkerRequest>) -> Reply {
        let who = caller(&request);
        let r = request.into_inner();
        let min = positive(r.min_worker).unwrap_or(1);
        let max = positive(r.max_worker).unwrap_or(min);
        let key = who.qualify(named(&r.model_name)?);
        let version = given(&r.model_version);
        let model = self
            .manager
            .scale(&who, &key, version, min, max)
            .await
            .map_err(|e| status(&e))?;
        reply(if r.synchronous {
            sentences::scaled(&model, min, version)
        } else {
            sentences::PROCESSING.to_owned()
        })
    }

    async fn set_default(&self, request: Request<SetDefaultRequest>) -> Reply {
        let who = caller(&request);
        let r = request.into_inner();
        let name = named(&r.model_name)?;
        let Some(version) = given(&r.model_version) else {
            return Err(Refusal::Invalid("model_version is required".into()).status());
        };
        self.manager
            .set_default(&who, &who.qualify(name), version)
            .await
            .map_err(|e| status(&e))?;
        reply(sentences::default_set(name, version))
    }

    async fn unregister_model(&self, request: Request<UnregisterModelRequest>) -> Reply {
        if !self.model_api {
            return Err(Refusal::ModelApiDisabled.status());
        }
        let who = caller(&request);
        let r = request.into_inner();
        let key = who.qualify(named(&r.model_name)?);
        let version = given(&r.model_version);
        let model = self
            .manager
            .unregister(&who, &key, version)
            .await
            .map_err(|e| status(&e))?;
        reply(sentences::unregistered(&model, version))
    }
}
