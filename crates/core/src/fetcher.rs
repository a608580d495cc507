//! The [`Fetcher`] seam: one GET of an `http://` or `https://` URL, redirects not
//! followed, and its typed failures. The policy around it (allowed URLs, `s3://`, redirects,
//! limits) is `fetch.rs`'s; the HTTP crate implements the seam with hyper and rustls.

use std::time::Duration;

use crate::Class;
use crate::byte_stream::ByteStream;

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
