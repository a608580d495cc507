//! Where registered archives come from, and where the server keeps them: a file in the
//! operator's model store (read-only to the server), an archive uploaded in the request
//! body, or a URL (`http://`, `https://`, `s3://`) under a prefix the operator allowed
//! (`fetch.rs`: the policy; the [`Fetcher`] seam: the transport, which the HTTP crate
//! implements, so this crate speaks no protocol). Uploaded and fetched archives are kept,
//! content-addressed, under `<state dir>/archives/<sha256>.mar` (whichever container they
//! are: the reader tells a zip from a `.tar.gz` by its bytes) so a restart can load them
//! again; the model store is never written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::Error;
use crate::byte_stream::ByteStream;
use crate::fetcher::Fetcher;
pub(crate) use crate::holds::Holds;
pub(crate) use crate::sink::{Limit, Sink};

/// The archive sources this server accepts.
#[derive(Clone)]
pub struct ArchiveStore {
    pub model_store: Option<PathBuf>,
    /// `<state dir>/archives`.
    pub kept: PathBuf,
    /// URL prefixes registrations may fetch from; empty: no remote fetch at all.
    pub allowed_urls: Vec<String>,
    /// Largest archive accepted by upload or fetch.
    pub max_bytes: u64,
    /// What `s3://bucket/key` is fetched from: `{s3_endpoint}/{bucket}/{key}`.
    pub s3_endpoint: String,
    /// How long a fetch waits for the response, and for each next part of the body.
    pub fetch_timeout: Duration,
    /// `None`: URL registrations are refused even under an allowed prefix.
    pub fetcher: Option<Arc<dyn Fetcher>>,
    /// Whether tenants may register archives from the model store by name (the
    /// operator's choice; off by default: the store is the operator's catalogue).
    pub tenants_use_model_store: bool,
    /// Registrations in flight per kept archive (`holds.rs`).
    pub(crate) holds: Arc<Holds>,
}

impl ArchiveStore {
    /// An archive named by `url`: a model-store file name, or an allowed URL (fetched).
    pub async fn resolve(&self, url: &str) -> Result<PathBuf, Error> {
        if url.contains("://") {
            return self.fetch(url).await;
        }
        let Some(store) = &self.model_store else {
            return Err(Error::ModelStoreNotConfigured(url.to_owned()));
        };
        let plain = !url.is_empty()
            && !url.contains('/')
            && !url.contains('\\')
            && url != "."
            && url != "..";
        if !plain {
            return Err(Error::InvalidArchiveName(url.to_owned()));
        }
        let path = store.join(url);
        if !path.is_file() {
            return Err(Error::ArchiveNotFound {
                name: crate::bounds::shown(url),
            });
        }
        Ok(path)
    }

    /// Ends the hold [`Sink::finish`] took on a kept archive when dropped (also when the
    /// registration's future is); nothing for other paths.
    pub fn held(&self, archive: &Path) -> Held {
        Held(self.holds.clone(), archive.to_path_buf())
    }

    /// Deletes a kept archive that `in_use` (by a registered model) does not keep and no
    /// registration in flight holds.
    pub fn forget(&self, archive: &Path, in_use: bool) {
        if archive.starts_with(&self.kept) && !in_use {
            self.holds.remove_unheld(archive);
        }
    }

    /// Streams an uploaded archive to `kept/<sha256>.mar`, refusing it past `max_bytes`.
    /// `quota`: the tenant's `max_archive_bytes`, when lower than the server's limit.
    pub async fn keep_upload(
        &self,
        body: ByteStream,
        quota: Option<u64>,
    ) -> Result<(PathBuf, String), Error> {
        let limit = match quota {
            Some(q) if q < self.max_bytes => Limit::Quota(q),
            _ => Limit::Server(self.max_bytes),
        };
        self.keep(body, limit, Error::UploadFailed).await
    }

    async fn keep(
        &self,
        mut body: ByteStream,
        limit: Limit,
        broken: impl Fn(String) -> Error,
    ) -> Result<(PathBuf, String), Error> {
        let mut sink = Sink::create(&self.kept).await?;
        while let Some(chunk) = body.next().await {
            sink.write(chunk.map_err(&broken)?, limit).await?;
        }
        sink.finish(&self.kept, &self.holds).await
    }
}

/// A registration's hold on its kept archive, released on drop.
pub struct Held(Arc<Holds>, PathBuf);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.release(&self.1);
    }
}
