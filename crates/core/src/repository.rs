//! The model-repository operations of the tensor protocols (KServe v2's repository
//! extension, Triton's `RepositoryIndex` / `RepositoryModelLoad` / `RepositoryModelUnload`),
//! over the [`Manager`]: the index is the caller's namespace; loading a model by name
//! registers `<name>.mar` from the model store (nothing to do when it is loaded already);
//! unloading removes every version. Both are audited as the management API's are.

use std::sync::Arc;

use crate::tenancy::Principal;
use crate::{Error, Manager, Model, Register};

/// One entry of the repository index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    /// `READY`, or `UNAVAILABLE` with a reason.
    pub state: &'static str,
    pub reason: String,
}

impl Manager {
    /// The versions in `who`'s namespace; only the ready ones with `ready_only`.
    pub fn repository_index(&self, who: &Principal, ready_only: bool) -> Vec<IndexEntry> {
        let tenant = who.tenant().map(|t| t.name.as_str());
        // Sorted by name and version already.
        self.registry()
            .versions_of(tenant)
            .into_iter()
            .map(|m| {
                let ready = m.is_healthy();
                IndexEntry {
                    name: m.name().to_owned(),
                    version: m.version.clone(),
                    state: if ready { "READY" } else { "UNAVAILABLE" },
                    reason: if ready {
                        String::new()
                    } else {
                        "fewer workers than the model's minimum".into()
                    },
                }
            })
            .filter(|e| !ready_only || e.state == "READY")
            .collect()
    }

    /// `name`'s default version when it is loaded; otherwise registers `<name>.mar` from
    /// the model store under that name.
    pub async fn repository_load(&self, who: &Principal, name: &str) -> Result<Arc<Model>, Error> {
        let key = who.qualify(name);
        if let Ok(model) = self.registry().get(&key, None) {
            return Ok(model);
        }
        let r = Register {
            url: Some(format!("{name}.mar")),
            model_name: Some(name.to_owned()),
            ..Register::default()
        };
        self.register(who, r, crate::no_bytes()).await
    }

    /// Unregisters every version of `name` (the default last, as the registry requires);
    /// returns how many.
    pub async fn repository_unload(&self, who: &Principal, name: &str) -> Result<usize, Error> {
        let key = who.qualify(name);
        let mut versions = self.registry().versions(&key)?;
        // Non-defaults first: the default may only go when it is the last.
        versions.sort_by_key(|(_, is_default)| *is_default);
        who.spend_change().await?;
        for (model, _) in &versions {
            self.unregister_spent(who, &key, Some(&model.version))
                .await?;
        }
        Ok(versions.len())
    }
}
