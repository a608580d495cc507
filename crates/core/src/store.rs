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
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::Error;
use crate::byte_stream::ByteStream;
use crate::fetcher::Fetcher;
pub(crate) use crate::holds::Holds;

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
            sink.write(&chunk.map_err(&broken)?, limit).await?;
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

/// Which limit an archive's size is held to: the server's (413) or a tenant's quota (429).
#[derive(Clone, Copy)]
pub(crate) enum Limit {
    Server(u64),
    Quota(u64),
}

/// A temporary file being filled and hashed, renamed to its hash when complete.
pub(crate) struct Sink {
    file: tokio::fs::File,
    tmp: PathBuf,
    hash: Sha256,
    len: u64,
}

impl Sink {
    pub(crate) async fn create(dir: &Path) -> Result<Sink, Error> {
        let io = |e: std::io::Error| {
            Error::ArchiveStore(format!(
                "cannot write to {}: {e}; check --state-dir",
                dir.display()
            ))
        };
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let tmp = dir.join(format!(".upload-{}-{}", std::process::id(), unique()));
        let file = tokio::fs::File::create(&tmp).await.map_err(io)?;
        Ok(Sink {
            file,
            tmp,
            hash: Sha256::new(),
            len: 0,
        })
    }

    pub(crate) async fn write(&mut self, chunk: &[u8], limit: Limit) -> Result<(), Error> {
        self.len += chunk.len() as u64;
        if let Limit::Quota(q) = limit
            && self.len > q
        {
            let what = format!("the archive is over {q} bytes");
            return Err(Error::quota("max_archive_bytes", q, what));
        }
        if let Limit::Server(max) = limit
            && self.len > max
        {
            return Err(Error::UploadTooLarge(max));
        }
        self.hash.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| Error::ArchiveStore(format!("writing the archive failed: {e}")))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Renames the file to its hash and holds it for the registration that kept it
    /// (released when the registration drops [`ArchiveStore::held`]'s guard), so a
    /// concurrent refusal of the same bytes cannot delete it in between.
    pub(crate) async fn finish(
        self,
        dir: &Path,
        holds: &Holds,
    ) -> Result<(PathBuf, String), Error> {
        let io =
            |e: std::io::Error| Error::ArchiveStore(format!("keeping the archive failed: {e}"));
        if self.len == 0 {
            return Err(Error::MissingArchive);
        }
        self.file.sync_all().await.map_err(io)?;
        let sha = hex::encode(self.hash.clone().finalize());
        let path = dir.join(format!("{sha}.mar"));
        holds.rename_and_hold(&self.tmp, &path).map_err(io)?;
        crate::snapshot::sync_dir(dir);
        Ok((path, sha))
    }
}

impl Drop for Sink {
    /// A refused or failed upload leaves nothing behind (after `finish` the name is gone).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Relaxed)
}
