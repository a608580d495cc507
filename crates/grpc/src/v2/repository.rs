//! Triton's model-repository extension mapped onto the manager: the index is the caller's
//! registered models; load registers an archive of the model store by name (`digits` is
//! `digits.mar`; a name with an archive suffix is that file); unload unregisters the
//! model's default version. Both change what is served, so the edge authenticated them
//! as management calls, and they obey `model_api`.

use ferroserve_core::tenancy::Principal;
use ferroserve_core::{Error, Manager, Register, Registry};
use tonic::Status;

use crate::pb::inference::RepositoryIndexResponse;
use crate::pb::inference::repository_index_response::ModelIndex;
use crate::status::{Refusal, status};

pub fn index(registry: &Registry, who: &Principal, ready_only: bool) -> RepositoryIndexResponse {
    let tenant = who.tenant().map(|t| t.name.as_str());
    let models = registry
        .all()
        .into_iter()
        .filter(|(m, _)| m.tenant() == tenant)
        .filter(|(m, _)| !ready_only || m.is_healthy())
        .map(|(m, _)| {
            let healthy = m.is_healthy();
            ModelIndex {
                name: m.name().to_owned(),
                version: m.version.clone(),
                state: if healthy { "READY" } else { "UNAVAILABLE" }.into(),
                reason: if healthy {
                    String::new()
                } else {
                    "fewer workers running than the model's minimum".into()
                },
            }
        })
        .collect();
    RepositoryIndexResponse { models }
}

/// The archive file and the model name for a load request's `model_name`.
fn archive_of(model_name: &str) -> (String, String) {
    for suffix in [".mar", ".tar.gz", ".tgz"] {
        if let Some(stem) = model_name.strip_suffix(suffix) {
            return (model_name.to_owned(), stem.to_owned());
        }
    }
    (format!("{model_name}.mar"), model_name.to_owned())
}

pub async fn load(
    manager: &Manager,
    model_api: bool,
    who: &Principal,
    model_name: &str,
) -> Result<(), Status> {
    if !model_api {
        return Err(Refusal::ModelApiDisabled.status());
    }
    if model_name.is_empty() {
        return Err(Refusal::Invalid("model_name is required".into()).status());
    }
    let (file, name) = archive_of(model_name);
    let register = Register {
        url: Some(file),
        model_name: Some(name),
        ..Register::default()
    };
    match manager
        .register(who, register, ferroserve_core::no_bytes())
        .await
    {
        // Loading what is loaded is done (Triton reloads; the archive is the same file).
        Ok(_) | Err(Error::VersionExists { .. }) => Ok(()),
        Err(e) => Err(status(&e)),
    }
}

pub async fn unload(
    manager: &Manager,
    model_api: bool,
    who: &Principal,
    model_name: &str,
) -> Result<(), Status> {
    if !model_api {
        return Err(Refusal::ModelApiDisabled.status());
    }
    manager
        .unregister(who, &who.qualify(model_name), None)
        .await
        .map(|_| ())
        .map_err(|e| status(&e))
}

#[cfg(test)]
mod tests {
    use super::archive_of;

    #[test]
    fn a_bare_name_is_its_mar_file() {
        assert_eq!(archive_of("digits"), ("digits.mar".into(), "digits".into()));
        assert_eq!(archive_of("r.tar.gz"), ("r.tar.gz".into(), "r".into()));
    }
}
