//! Triton's model-repository extension over the manager's repository operations
//! (`ferroserve_core`'s `repository.rs`, shared with REST): the index is the caller's
//! namespace; load registers `<name>.mar` from the model store; unload removes every
//! version. Both change what is served, so the edge authenticated them as management
//! calls, and they obey `model_api`.

use ferroserve_core::Manager;
use ferroserve_core::tenancy::Principal;
use tonic::Status;

use crate::pb::inference::RepositoryIndexResponse;
use crate::pb::inference::repository_index_response::ModelIndex;
use crate::status::{Refusal, status};

pub fn index(manager: &Manager, who: &Principal, ready_only: bool) -> RepositoryIndexResponse {
    let models = manager
        .repository_index(who, ready_only)
        .into_iter()
        .map(|e| ModelIndex {
            name: e.name,
            version: e.version,
            state: e.state.into(),
            reason: e.reason,
        })
        .collect();
    RepositoryIndexResponse { models }
}

fn allowed(model_api: bool, model_name: &str) -> Result<(), Status> {
    if !model_api {
        return Err(Refusal::ModelApiDisabled.status());
    }
    if model_name.is_empty() {
        return Err(Refusal::Invalid("model_name is required".into()).status());
    }
    Ok(())
}

pub async fn load(
    manager: &Manager,
    model_api: bool,
    who: &Principal,
    model_name: &str,
) -> Result<(), Status> {
    allowed(model_api, model_name)?;
    manager
        .repository_load(who, model_name)
        .await
        .map(|_| ())
        .map_err(|e| status(&e))
}

pub async fn unload(
    manager: &Manager,
    model_api: bool,
    who: &Principal,
    model_name: &str,
) -> Result<(), Status> {
    allowed(model_api, model_name)?;
    manager
        .repository_unload(who, model_name)
        .await
        .map(|_| ())
        .map_err(|e| status(&e))
}
