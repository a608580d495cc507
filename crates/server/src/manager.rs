//! Registering, scaling and unregistering models: what the management API and start-up
//! share. Every change is saved to the snapshot before it is acknowledged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::snapshot::Snapshot;
use crate::store::ArchiveStore;
use crate::tenancy::{Audit, Principal, Tenants};
use crate::{ApiError, LoadRequest, Loader, Model, Registry};

#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    loader: Arc<Loader>,
    store: ArchiveStore,
    /// Where the snapshot lives; `None` when snapshots are off.
    snapshot_dir: Option<PathBuf>,
    /// Serialises snapshot writes so an older state never overwrites a newer one.
    saving: Mutex<()>,
    tenants: Arc<Tenants>,
    audit: Audit,
    /// One registration at a time per tenant, from the `max_models` check to the insert,
    /// so concurrent registrations cannot exceed the quota.
    registering: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Manager {
    pub fn new(
        registry: Registry,
        loader: Arc<Loader>,
        store: ArchiveStore,
        snapshot_dir: Option<PathBuf>,
        tenants: Arc<Tenants>,
        audit: Audit,
    ) -> Manager {
        Manager {
            inner: Arc::new(Inner {
                registry,
                loader,
                store,
                snapshot_dir,
                saving: Mutex::new(()),
                tenants,
                audit,
                registering: Mutex::default(),
            }),
        }
    }

    pub fn tenants(&self) -> &Arc<Tenants> {
        &self.inner.tenants
    }

    /// Appends one management operation to the audit log.
    pub fn audit(
        &self,
        who: &Principal,
        action: &str,
        target: &str,
        outcome: Result<(), &ApiError>,
    ) {
        self.inner.audit.record(who, action, target, outcome);
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn metrics(&self) -> crate::Metrics {
        self.inner.loader.metrics.clone()
    }

    pub fn store(&self) -> &ArchiveStore {
        &self.inner.store
    }

    /// Validates and loads the archive, registers the model, saves the snapshot.
    pub async fn register(&self, req: LoadRequest) -> Result<Arc<Model>, ApiError> {
        let model = self.load(req).await?;
        self.save().await?;
        Ok(model)
    }

    async fn load(&self, req: LoadRequest) -> Result<Arc<Model>, ApiError> {
        let _turn = match &req.tenant {
            Some((tenant, _)) => Some(self.registration_turn(tenant).lock_owned().await),
            None => None,
        };
        let this = self.clone();
        let model = blocking(move || {
            let info = this.inner.loader.inspect(&req.archive)?;
            let name = req
                .name
                .clone()
                .unwrap_or_else(|| info.manifest.model.model_name.clone());
            let tenant = req.tenant.as_ref().map(|(t, _)| t.as_str());
            let key = crate::model::key(tenant, &name);
            this.inner
                .registry
                .check_free(&key, &info.manifest.model.model_version)?;
            if let Some((_, quotas)) = &req.tenant {
                let owned = this.inner.registry.keys_of(tenant);
                if owned >= quotas.max_models && !this.inner.registry.has_name(&key) {
                    return Err(crate::tenancy::quota_exceeded(
                        "max_models",
                        quotas.max_models as u64,
                        &format!("the tenant already has {owned} models"),
                    ));
                }
            }
            this.inner.loader.load(&req, info)
        })
        .await?;
        let model = Arc::new(model);
        self.inner.registry.insert(model.clone())?;
        Ok(model)
    }

    fn registration_turn(&self, tenant: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.inner.registering.lock().unwrap();
        turns.retain(|_, t| Arc::strong_count(t) > 1);
        turns.entry(tenant.to_owned()).or_default().clone()
    }

    /// Removes a version (its default when `version` is `None`), drains its queue, and
    /// deletes its kept archive when no other version uses it.
    pub async fn unregister(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Arc<Model>, ApiError> {
        let model = self.inner.registry.remove(name, version)?;
        self.inner
            .loader
            .metrics
            .forget(&model.key(), &model.version);
        self.save().await?;
        model.pipeline.batcher().shutdown().await;
        let archive = &model.info.archive_path;
        let shared = self
            .inner
            .registry
            .all()
            .iter()
            .any(|(m, _)| &m.info.archive_path == archive);
        if archive.starts_with(&self.inner.store.kept) && !shared {
            let _ = tokio::fs::remove_file(archive).await;
        }
        Ok(model)
    }

    pub async fn scale(
        &self,
        name: &str,
        version: Option<&str>,
        min: usize,
        max: usize,
    ) -> Result<Arc<Model>, ApiError> {
        let model = self.inner.registry.get(name, version)?;
        model.pipeline.batcher().scale(min, max)?;
        self.save().await?;
        Ok(model)
    }

    pub async fn set_default(&self, name: &str, version: &str) -> Result<(), ApiError> {
        self.inner.registry.set_default(name, version)?;
        self.save().await
    }

    /// Registers every model of a snapshot; one that fails to load is logged and skipped so
    /// the others still come back. The snapshot file is left as it was (a model that failed
    /// to load stays in it until the next change is saved).
    pub async fn restore(&self, snapshot: Snapshot) -> usize {
        let mut restored = 0;
        let mut defaults = Vec::new();
        for r in snapshot.models {
            // A tenant removed just before a crash can leave its models in the snapshot:
            // they would come back in a namespace no token reaches.
            let tenant = match &r.tenant {
                None => None,
                Some(t) => match self.inner.tenants.get(t) {
                    Some(record) => Some((t.clone(), record.quotas.clone())),
                    None => {
                        tracing::warn!(model = %r.name, version = %r.version, tenant = %t, "not restoring a model whose tenant no longer exists");
                        continue;
                    }
                },
            };
            let req = LoadRequest {
                archive: r.archive.clone(),
                url: r.url.clone(),
                name: Some(r.name.clone()),
                tenant,
                batch_size: Some(r.batch_size),
                max_batch_delay_ms: Some(r.max_batch_delay_ms),
                min_workers: Some(r.min_workers),
                max_workers: Some(r.max_workers),
                response_timeout_s: Some(r.response_timeout_s),
                loaded_at_startup: true,
            };
            match self.load(req).await {
                Ok(m) => {
                    restored += 1;
                    if r.is_default {
                        defaults.push((m.key(), m.version.clone()));
                    }
                }
                Err(e) => {
                    tracing::error!(model = %r.name, version = %r.version, archive = %r.archive.display(), error = %e, "could not restore a model from the snapshot")
                }
            }
        }
        for (name, version) in defaults {
            let _ = self.inner.registry.set_default(&name, &version);
        }
        restored
    }

    async fn save(&self) -> Result<(), ApiError> {
        let Some(dir) = self.inner.snapshot_dir.clone() else {
            return Ok(());
        };
        let this = self.clone();
        blocking(move || {
            let _guard = this.inner.saving.lock().unwrap();
            Snapshot::of(&this.inner.registry).write(&dir)
        })
        .await
    }

    /// Drains every model's queue (graceful shutdown).
    pub async fn shutdown(&self) {
        for (model, _) in self.inner.registry.all() {
            model.pipeline.batcher().shutdown().await;
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError::new(
            500,
            "InternalServerException",
            format!("a model load task failed: {e}"),
        ))
    })
}
