//! [`LoadRequest`]: one registration as it was asked for (by a management edge, the
//! start-up list or the snapshot), before the archive's config and the defaults fill it in.

use std::path::PathBuf;

use ferroserve_archive::ArchiveInfo;

use crate::ModelKey;

/// One registration, as the management API or the start-up list asks for it. `None`
/// fields fall back to the archive's config, then to [`ModelDefaults`](crate::ModelDefaults).
#[derive(Debug, Clone, Default)]
pub struct LoadRequest {
    pub archive: PathBuf,
    pub url: String,
    /// Overrides the manifest's model name.
    pub name: Option<String>,
    pub batch_size: Option<usize>,
    pub max_batch_delay_ms: Option<u64>,
    pub min_workers: Option<usize>,
    pub max_workers: Option<usize>,
    pub response_timeout_s: Option<u64>,
    pub loaded_at_startup: bool,
    /// The owning tenant and its quotas; `None`: the shared namespace, server limits only.
    pub tenant: Option<(String, crate::tenancy::Quotas)>,
}

impl LoadRequest {
    /// The key the model will have: the asked name (else the manifest's) in the tenant's
    /// namespace.
    pub fn key(&self, info: &ArchiveInfo) -> ModelKey {
        let name = self
            .name
            .as_deref()
            .unwrap_or(&info.manifest.model.model_name);
        ModelKey::new(self.tenant.as_ref().map(|(t, _)| t.as_str()), name)
    }
}
