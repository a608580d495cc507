//! Where registered archives come from, and where the server keeps them: a file in the
//! operator's model store (read-only to the server), an archive uploaded in the request
//! body, or an `http://` URL under a prefix the operator allowed. Uploaded and fetched
//! archives are kept, content-addressed, under `<state dir>/archives/` so a restart can load
//! them again; the model store is never written.

use std::path::{Path, PathBuf};

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::ApiError;

/// The archive sources this server accepts.
#[derive(Debug, Clone)]
pub struct ArchiveStore {
    pub model_store: Option<PathBuf>,
    /// `<state dir>/archives`.
    pub kept: PathBuf,
    /// URL prefixes registrations may fetch from; empty: no remote fetch at all.
    pub allowed_urls: Vec<String>,
    /// Largest archive accepted by upload or fetch.
    pub max_bytes: u64,
}

impl ArchiveStore {
    /// An archive named by `url`: a model-store file name or an allowed URL.
    pub async fn resolve(&self, url: &str) -> Result<PathBuf, ApiError> {
        if url.contains("://") {
            return self.fetch(url).await;
        }
        let Some(store) = &self.model_store else {
            return Err(ApiError::new(
                400,
                "ModelStoreNotConfigured",
                format!(
                    "cannot load {url:?}: this server has no model store; start it with --model-store DIR, or upload the archive as the request body"
                ),
            ));
        };
        let plain = !url.is_empty()
            && !url.contains('/')
            && !url.contains('\\')
            && url != "."
            && url != "..";
        if !plain {
            return Err(ApiError::new(
                400,
                "InvalidArchiveName",
                format!(
                    "{url:?} is not a file name in the model store; name a .mar file in it, without directories"
                ),
            ));
        }
        let path = store.join(url);
        if !path.is_file() {
            return Err(ApiError::new(
                404,
                "ArchiveNotFound",
                format!(
                    "model store {} has no file {url:?}; copy the archive there or upload it",
                    store.display()
                ),
            ));
        }
        Ok(path)
    }

    /// Streams an uploaded archive to `kept/<sha256>.mar`, refusing it past `max_bytes`.
    /// `quota`: the tenant's `max_archive_bytes`, when lower than the server's limit.
    pub async fn keep_upload(
        &self,
        mut body: Body,
        quota: Option<u64>,
    ) -> Result<(PathBuf, String), ApiError> {
        let mut sink = Sink::create(&self.kept).await?;
        let limit = match quota {
            Some(q) if q < self.max_bytes => Limit::Quota(q),
            _ => Limit::Server(self.max_bytes),
        };
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ApiError::new(
                    400,
                    "UploadFailed",
                    format!("reading the uploaded archive failed: {e}; send it again"),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                sink.write(&data, limit).await?;
            }
        }
        sink.finish(&self.kept).await
    }

    async fn fetch(&self, url: &str) -> Result<PathBuf, ApiError> {
        if !self
            .allowed_urls
            .iter()
            .any(|prefix| url.starts_with(prefix.as_str()))
        {
            return Err(ApiError::new(
                403,
                "UrlNotAllowed",
                format!(
                    "{url} is not under any URL prefix this server allows (allowed_urls); upload the archive in the request body or ask the operator to allow its prefix"
                ),
            ));
        }
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| ApiError::new(400, "InvalidUrl", format!("{url}: {e}")))?;
        if uri.scheme_str() != Some("http") {
            return Err(ApiError::new(
                400,
                "UnsupportedUrlScheme",
                format!(
                    "{url}: only http:// URLs can be fetched (put a TLS-terminating proxy on the allowed prefix), or upload the archive"
                ),
            ));
        }
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<Bytes>>();
        let fetch_err = |e: String| {
            ApiError::new(
                502,
                "DownloadArchiveException",
                format!("fetching {url} failed: {e}"),
            )
        };
        let response = client
            .get(uri)
            .await
            .map_err(|e| fetch_err(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fetch_err(format!(
                "the server answered {}",
                response.status()
            )));
        }
        let mut body = response.into_body();
        let mut sink = Sink::create(&self.kept).await?;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| fetch_err(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                sink.write(&data, Limit::Server(self.max_bytes)).await?;
            }
        }
        Ok(sink.finish(&self.kept).await?.0)
    }
}

/// Which limit an archive's size is held to: the server's (413) or a tenant's quota (429).
#[derive(Clone, Copy)]
enum Limit {
    Server(u64),
    Quota(u64),
}

/// A temporary file being filled and hashed, renamed to its hash when complete.
struct Sink {
    file: tokio::fs::File,
    tmp: PathBuf,
    hash: Sha256,
    len: u64,
}

impl Sink {
    async fn create(dir: &Path) -> Result<Sink, ApiError> {
        let io = |e: std::io::Error| {
            ApiError::new(
                500,
                "ArchiveStoreError",
                format!("cannot write to {}: {e}; check --state-dir", dir.display()),
            )
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

    async fn write(&mut self, chunk: &[u8], limit: Limit) -> Result<(), ApiError> {
        self.len += chunk.len() as u64;
        if let Limit::Quota(q) = limit
            && self.len > q
        {
            let what = format!("the archive is over {q} bytes");
            return Err(crate::tenancy::quota_exceeded(
                "max_archive_bytes",
                q,
                &what,
            ));
        }
        if let Limit::Server(max) = limit
            && self.len > max
        {
            return Err(ApiError::new(
                413,
                "ArchiveTooLarge",
                format!(
                    "the archive is larger than this server's limit of {max} bytes (max_upload_size)"
                ),
            ));
        }
        self.hash.update(chunk);
        self.file.write_all(chunk).await.map_err(|e| {
            ApiError::new(
                500,
                "ArchiveStoreError",
                format!("writing the archive failed: {e}"),
            )
        })
    }

    async fn finish(self, dir: &Path) -> Result<(PathBuf, String), ApiError> {
        let io = |e: std::io::Error| {
            ApiError::new(
                500,
                "ArchiveStoreError",
                format!("keeping the archive failed: {e}"),
            )
        };
        if self.len == 0 {
            return Err(ApiError::new(
                400,
                "MissingArchive",
                "no archive given: pass ?url=NAME.mar (a file in the model store) or send the .mar as the request body",
            ));
        }
        self.file.sync_all().await.map_err(io)?;
        let sha = hex::encode(self.hash.clone().finalize());
        let path = dir.join(format!("{sha}.mar"));
        tokio::fs::rename(&self.tmp, &path).await.map_err(io)?;
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
