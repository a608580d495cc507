//! Fetching a registration's archive by URL. The policy is the core's: which URLs may be
//! fetched (`allowed_urls`, checked on the URL as the user wrote it, before any network
//! access, and again on every redirect target), what `s3://bucket/key` means (an unsigned
//! GET of `{s3_endpoint}/{bucket}/{key}`), how many redirects are followed (5), how long a
//! silent server is waited for (`fetch_timeout_s`, for the response and between body
//! bytes) and how large an archive may be (`max_upload_size`, from the declared length and
//! again while streaming). The transport is the [`Fetcher`] seam's: one GET, redirects
//! not followed (the HTTP crate implements it with hyper and rustls).

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;

use crate::store::{ArchiveStore, ByteStream, Limit, Sink};
use crate::{Class, Error};

/// Redirects followed before a fetch gives up.
pub const MAX_REDIRECTS: usize = 5;

/// What one GET answered.
pub enum Fetched {
    /// A 2xx body, with its `Content-Length` when the server sent one.
    Body { body: ByteStream, len: Option<u64> },
    /// A redirect (301, 302, 303, 307, 308) to this absolute URL.
    Redirect(String),
}

/// The seam to whatever fetches archives: one GET of an `http://` or `https://` URL.
#[async_trait::async_trait]
pub trait Fetcher: Send + Sync {
    async fn get(&self, url: &str) -> Result<Fetched, FetchError>;
}

/// Why a fetch failed. Each says what to do; [`FetchError::kind`] is stable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    InvalidUrl(String),
    #[error("cannot connect ({0}); check the URL's host and port, and that the server is up")]
    Connect(String),
    #[error(
        "the server's TLS certificate is not signed by a CA this server trusts ({0}); if it comes from a private CA, start ferroserve with --fetch-ca-file naming that CA's PEM certificate"
    )]
    CertificateUntrusted(String),
    #[error(
        "the server's TLS certificate is not valid ({0}); it may be expired or issued for another host name: renew it, or use the host name it names"
    )]
    CertificateInvalid(String),
    #[error(
        "the TLS handshake failed ({0}); check that the server speaks HTTPS on that port (or use http://) with TLS 1.2 or 1.3"
    )]
    Tls(String),
    #[error(
        "the server answered {status}; check the URL (an S3 object must be public, or the URL presigned and not expired)"
    )]
    Status { status: String },
    #[error(
        "the server answered {0} without a Location header (for S3, a bucket in another region: set --s3-endpoint to that region's endpoint)"
    )]
    RedirectWithoutLocation(u16),
    #[error("more than {0} redirects; register the archive's final URL")]
    TooManyRedirects(usize),
    #[error(
        "the server sent nothing for {0:?} (fetch_timeout_s); check that it is up, or raise fetch_timeout_s for a slow link"
    )]
    Stalled(Duration),
    #[error("the download broke off ({0}); try again")]
    Broken(String),
    #[error("the server sent an empty body; check the URL")]
    Empty,
}

impl FetchError {
    /// A stable name: TorchServe's `DownloadArchiveException`, or a more precise one for
    /// TLS and time-outs.
    pub fn kind(&self) -> &'static str {
        use FetchError as F;
        match self {
            F::InvalidUrl(_) => "InvalidUrl",
            F::CertificateUntrusted(_) => "DownloadCertificateUntrusted",
            F::CertificateInvalid(_) => "DownloadCertificateInvalid",
            F::Tls(_) => "DownloadTlsFailed",
            F::Stalled(_) => "DownloadTimeout",
            F::Connect(_)
            | F::Status { .. }
            | F::RedirectWithoutLocation(_)
            | F::TooManyRedirects(_)
            | F::Broken(_)
            | F::Empty => "DownloadArchiveException",
        }
    }

    pub fn class(&self) -> Class {
        match self {
            FetchError::InvalidUrl(_) => Class::BadRequest,
            FetchError::Stalled(_) => Class::Timeout,
            _ => Class::Upstream,
        }
    }
}

/// Whether `prefix` allows `url`. A prefix that is only `scheme://authority` matches that
/// authority alone: `https://models.example.com` does not allow
/// `https://models.example.com.evil.net/x.mar` nor `https://models.example.com@evil.net/`.
/// A bare scheme (`https://`) allows every URL of that scheme.
pub(crate) fn prefix_allows(prefix: &str, url: &str) -> bool {
    let Some(rest) = url.strip_prefix(prefix) else {
        return false;
    };
    let bare_authority = prefix
        .split_once("://")
        .is_some_and(|(_, after)| !after.is_empty() && !after.contains('/'));
    !bare_authority || rest.is_empty() || rest.starts_with(['/', '?', '#'])
}

/// `.` and `..` path segments (also percent-encoded, or after `\`), which a server would
/// resolve to a path outside the allowed prefix.
fn has_dot_segments(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("", |i| &after_scheme[i..])
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let decoded = path
        .to_ascii_lowercase()
        .replace("%2e", ".")
        .replace("%2f", "/")
        .replace("%5c", "/")
        .replace('\\', "/");
    decoded.split('/').any(|s| s == "." || s == "..")
}

impl ArchiveStore {
    fn allows(&self, url: &str) -> bool {
        self.allowed_urls.iter().any(|p| prefix_allows(p, url))
    }

    /// The `http(s)://` URL the fetcher GETs for `url`: itself, or an `s3://` URL mapped
    /// onto the S3 endpoint (path style).
    pub(crate) fn transport_url(&self, url: &str) -> Result<String, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.into(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("it has no scheme"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => Ok(url.to_owned()),
            "s3" => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                let bucket_ok = !bucket.is_empty()
                    && bucket
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
                if !bucket_ok {
                    return Err(invalid(
                        "an s3:// URL is s3://BUCKET/KEY, with a bucket name of letters, digits, '.', '-' or '_'",
                    ));
                }
                if key.is_empty() || key.starts_with(['?', '#']) {
                    return Err(invalid(
                        "an s3:// URL is s3://BUCKET/KEY; the key is missing",
                    ));
                }
                let endpoint = self.s3_endpoint.trim_end_matches('/');
                Ok(format!("{endpoint}/{bucket}/{key}"))
            }
            _ => Err(Error::UnsupportedUrlScheme(url.to_owned())),
        }
    }

    /// Fetches `url` into `kept/<sha256>.mar`, refusing it past `max_bytes`.
    pub(crate) async fn fetch(&self, url: &str) -> Result<PathBuf, Error> {
        if has_dot_segments(url) {
            return Err(Error::InvalidUrl {
                url: url.to_owned(),
                reason: "its path has a `.` or `..` segment; give the archive's URL without them"
                    .into(),
            });
        }
        if !self.allows(url) {
            return Err(Error::UrlNotAllowed(url.to_owned()));
        }
        let Some(fetcher) = &self.fetcher else {
            return Err(Error::FetchUnavailable(url.to_owned()));
        };
        let failed = |problem: FetchError| match problem {
            FetchError::InvalidUrl(reason) => Error::InvalidUrl {
                url: url.to_owned(),
                reason,
            },
            problem => Error::Fetch {
                url: url.to_owned(),
                problem,
            },
        };
        let idle = self.fetch_timeout;
        let mut target = self.transport_url(url)?;
        let mut hops = 0;
        let (mut body, len) = loop {
            let answer = tokio::time::timeout(idle, fetcher.get(&target))
                .await
                .map_err(|_| failed(FetchError::Stalled(idle)))?
                .map_err(failed)?;
            match answer {
                Fetched::Body { body, len } => break (body, len),
                Fetched::Redirect(to) => {
                    hops += 1;
                    if hops > MAX_REDIRECTS {
                        return Err(failed(FetchError::TooManyRedirects(MAX_REDIRECTS)));
                    }
                    if has_dot_segments(&to) || !self.allows(&to) {
                        return Err(Error::RedirectNotAllowed {
                            url: url.to_owned(),
                            to,
                        });
                    }
                    target = match self.transport_url(&to)? {
                        t if t == to => t,
                        // No redirect to an s3:// name: only http(s) are followed.
                        _ => return Err(Error::UnsupportedUrlScheme(to)),
                    };
                }
            }
        };
        if let Some(len) = len
            && len > self.max_bytes
        {
            return Err(Error::UploadTooLarge(self.max_bytes));
        }
        let mut sink = Sink::create(&self.kept).await?;
        loop {
            let next = tokio::time::timeout(idle, body.next())
                .await
                .map_err(|_| failed(FetchError::Stalled(idle)))?;
            match next {
                None => break,
                Some(Err(reason)) => return Err(failed(FetchError::Broken(reason))),
                Some(Ok(chunk)) => sink.write(&chunk, Limit::Server(self.max_bytes)).await?,
            }
        }
        if sink.is_empty() {
            return Err(failed(FetchError::Empty));
        }
        Ok(sink.finish(&self.kept).await?.0)
    }
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;
