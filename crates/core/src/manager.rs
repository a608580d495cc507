//! Registering, scaling and unregistering models: what every management edge (REST today,
//! gRPC next) and start-up share. Every change is saved to the snapshot before it is
//! acknowledged, and every operation a principal asks for goes to the audit log here, once,
//! whichever edge it came through. Tenant operations are in `tenant_ops.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::bounds::Range;
use crate::byte_stream::ByteStream;
use crate::snapshot::Snapshot;
use crate::store::ArchiveStore;
use crate::tenancy::{Audit, Principal, Tenants};
use crate::{Error, LoadRequest, Loader, Model, ModelKey, Registry};

/// A registration as a management API asks for it: the archive by name (`url`: a
/// model-store file or an allowed URL) or, without one, uploaded; settings left `None`
/// come from the archive's config, then the server's defaults.
#[derive(Debug, Clone, Default)]
pub struct Register {
    pub url: Option<String>,
    pub model_name: Option<String>,
    pub batch_size: Option<usize>,
    pub max_batch_delay_ms: Option<u64>,
    pub initial_workers: Option<usize>,
    pub response_timeout_s: Option<u64>,
}

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

    /// Appends one operation to the audit log, passing its outcome through.
    pub(crate) fn audited<T>(
        &self,
        who: &Principal,
        action: &str,
        target: &str,
        outcome: Result<T, Error>,
    ) -> Result<T, Error> {
        self.inner
            .audit
            .record(who, action, target, outcome.as_ref().map(|_| ()));
        outcome
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

    /// Fetches or keeps the archive, then [`Manager::load_and_register`]s it in the
    /// caller's namespace, under its quotas. `upload` is read only when `r.url` is `None`.
    pub async fn register(
        &self,
        who: &Principal,
        r: Register,
        upload: ByteStream,
    ) -> Result<Arc<Model>, Error> {
        // Before the upload is read: a refused change costs its sender a 429, not a body.
        who.spend_change().await?;
        let target = r
            .url
            .as_deref()
            .map_or_else(|| "upload".into(), crate::fetch::redacted);
        let outcome = self.register_from(who, r, upload).await;
        self.audited(who, "register", &target, outcome)
    }

    async fn register_from(
        &self,
        who: &Principal,
        r: Register,
        upload: ByteStream,
    ) -> Result<Arc<Model>, Error> {
        let quota = who.tenant().map(|t| t.quotas.max_archive_bytes);
        let (archive, url) = match &r.url {
            Some(url)
                if !url.contains("://")
                    && !who.is_admin()
                    && !self.store().tenants_use_model_store =>
            {
                return Err(Error::Forbidden(
                    "tenants cannot register archives from this server's model store; upload the archive in the request body, or ask the operator to set tenants_use_model_store",
                ));
            }
            // What describe, the snapshot and the logs show: never a URL's credentials.
            Some(url) => (
                self.store().resolve(url).await?,
                crate::fetch::redacted(url),
            ),
            None => {
                let (path, sha) = self.store().keep_upload(upload, quota).await?;
                (path, format!("upload:{sha}"))
            }
        };
        let held = self.store().held(&archive);
        let outcome = self.register_kept(who, r, archive.clone(), url).await;
        drop(held); // registered, or refused: no longer in flight
        if outcome.is_err() {
            // A refused upload or fetch leaves nothing on disk (unless a registered model
            // shares the same bytes).
            self.forget_if_unused(&archive).await;
        }
        outcome
    }

    async fn register_kept(
        &self,
        who: &Principal,
        r: Register,
        archive: PathBuf,
        url: String,
    ) -> Result<Arc<Model>, Error> {
        let quota = who.tenant().map(|t| t.quotas.max_archive_bytes);
        let size = std::fs::metadata(&archive).map_or(0, |m| m.len());
        if let Some(limit) = quota
            && size > limit
        {
            let what = format!("the archive is {size} bytes");
            return Err(Error::quota("max_archive_bytes", limit, what));
        }
        if let Some(t) = who.tenant()
            && archive.starts_with(&self.inner.store.kept)
        {
            let used = self.kept_bytes_of(Some(&t.name), &archive);
            let limit = t.quotas.max_storage_bytes;
            if used + size > limit {
                let what = format!(
                    "the tenant keeps {used} bytes of archives and this one is {size} bytes"
                );
                return Err(Error::quota("max_storage_bytes", limit, what));
            }
        }
        let req = LoadRequest {
            archive,
            url,
            name: r.model_name,
            batch_size: r.batch_size,
            max_batch_delay_ms: r.max_batch_delay_ms,
            min_workers: r.initial_workers,
            max_workers: None,
            response_timeout_s: r.response_timeout_s,
            loaded_at_startup: false,
            tenant: who.tenant().map(|t| (t.name.clone(), t.quotas.clone())),
        };
        self.load_and_register(req).await
    }

    /// Validates and loads the archive, registers the model, saves the snapshot.
    pub async fn load_and_register(&self, req: LoadRequest) -> Result<Arc<Model>, Error> {
        let model = self.load(req).await?;
        self.save().await?;
        Ok(model)
    }

    async fn load(&self, req: LoadRequest) -> Result<Arc<Model>, Error> {
        let _turn = match &req.tenant {
            Some((tenant, _)) => Some(self.registration_turn(tenant).lock_owned().await),
            None => None,
        };
        let this = self.clone();
        let model = blocking(move || {
            let info = this.inner.loader.inspect(&req.archive)?;
            let key = req.key(&info);
            crate::bounds::check_name("model name", &key.name)?;
            let tenant = key.tenant.as_deref();
            this.inner
                .registry
                .check_free(&key, &info.manifest.model.model_version)?;
            if let Some((_, quotas)) = &req.tenant {
                let owned = this.inner.registry.keys_of(tenant);
                if owned >= quotas.max_models && !this.inner.registry.has_name(&key) {
                    return Err(Error::quota(
                        "max_models",
                        quotas.max_models as u64,
                        format!("the tenant already has {owned} models"),
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
        who: &Principal,
        key: &ModelKey,
        version: Option<&str>,
    ) -> Result<Arc<Model>, Error> {
        who.spend_change().await?;
        self.unregister_spent(who, key, version).await
    }

    /// [`Manager::unregister`] once the change is spent (one for all of a name's versions).
    pub(crate) async fn unregister_spent(
        &self,
        who: &Principal,
        key: &ModelKey,
        version: Option<&str>,
    ) -> Result<Arc<Model>, Error> {
        let outcome = self.unregister_unaudited(key, version).await;
        self.audited(who, "unregister", &target(key, version), outcome)
    }

    pub(crate) async fn unregister_unaudited(
        &self,
        key: &ModelKey,
        version: Option<&str>,
    ) -> Result<Arc<Model>, Error> {
        let model = self.inner.registry.remove(key, version)?;
        if let Some(lease) = model.lease() {
            lease.release();
        }
        self.inner.loader.metrics.forget(&model.key, &model.version);
        self.save().await?;
        model.pipeline.batcher().shutdown().await;
        self.forget_if_unused(&model.info.archive_path).await;
        Ok(model)
    }

    /// Deletes a kept (uploaded or fetched) archive that no registered model uses.
    async fn forget_if_unused(&self, archive: &std::path::Path) {
        let shared = self
            .inner
            .registry
            .all()
            .iter()
            .any(|(m, _)| m.info.archive_path == archive);
        self.inner.store.forget(archive, shared);
    }

    /// Bytes of kept archives `tenant`'s models use, each file once, not counting `except`
    /// (the archive being registered, which may be the same bytes again).
    fn kept_bytes_of(&self, tenant: Option<&str>, except: &std::path::Path) -> u64 {
        let mut files: Vec<PathBuf> = self
            .inner
            .registry
            .versions_of(tenant)
            .iter()
            .map(|m| m.info.archive_path.clone())
            .filter(|p| p.starts_with(&self.inner.store.kept) && p != except)
            .collect();
        files.sort();
        files.dedup();
        files
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum()
    }

    pub async fn scale(
        &self,
        who: &Principal,
        key: &ModelKey,
        version: Option<&str>,
        min: usize,
        max: usize,
    ) -> Result<Arc<Model>, Error> {
        who.spend_change().await?;
        let outcome = async {
            let model = self.inner.registry.get(key, version)?;
            let c = &self.inner.loader.defaults.ceilings;
            let workers = Range::new("min_worker", 0, c.workers_per_model)
                .bounded_by("limit_workers_per_model");
            workers.check(min as u64, "asked in the request")?;
            Range {
                field: "max_worker",
                min: 1,
                ..workers
            }
            .check(max as u64, "asked in the request")?;
            // min > max is the batcher's `InvalidWorkerSettings`, as it always was.
            // The budget first, then the threads; a refusal of either changes nothing.
            let lease = model.lease();
            let before = lease.map(|l| l.held());
            if let Some(l) = lease {
                let asked = format!("{key}:{} asks for {max} workers", model.version);
                l.resize(max as u64, &asked)?;
            }
            if let Err(e) = model.pipeline.batcher().scale(min, max) {
                if let (Some(l), Some(n)) = (lease, before) {
                    let _ = l.resize(n, "restore");
                }
                return Err(e.into());
            }
            self.save().await?;
            Ok(model)
        }
        .await;
        let action = format!("scale min={min} max={max}");
        self.audited(who, &action, &target(key, version), outcome)
    }

    pub async fn set_default(
        &self,
        who: &Principal,
        key: &ModelKey,
        version: &str,
    ) -> Result<(), Error> {
        who.spend_change().await?;
        let outcome = async {
            self.inner.registry.set_default(key, version)?;
            self.save().await
        }
        .await;
        self.audited(who, "set-default", &target(key, Some(version)), outcome)
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
                        defaults.push((m.key.clone(), m.version.clone()));
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

    pub(crate) async fn save(&self) -> Result<(), Error> {
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
        // Stopping: compiled handlers stay on disk for the snapshot's restore.
        self.inner.loader.sandbox.keep_compiled();
        for (model, _) in self.inner.registry.all() {
            model.pipeline.batcher().shutdown().await;
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Internal(format!("a model load task failed: {e}"))))
}

/// The audit log's target: the model's name as its owner calls it, and the version.
fn target(key: &ModelKey, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{}/{v}", key.name),
        None => key.name.clone(),
    }
}
