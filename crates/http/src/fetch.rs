//! The core's [`Fetcher`] seam over hyper and rustls: one GET of an `http://` or
//! `https://` URL, redirects handed back to the core (which checks each hop against
//! `allowed_urls` before it is fetched), failures classified for the uploader (an untrusted
//! or invalid certificate, a failed handshake, no connection, a non-2xx status). TLS is
//! rustls with the `ring` provider, trusting the webpki roots (Mozilla's CA list) plus the
//! operator's `fetch_ca_file`. The policy (allowed prefixes, `s3://`, redirects, time-outs,
//! size caps) is the core's (`crates/core/src/fetch.rs`).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferroserve_core::{Error, FetchError, Fetched, Fetcher};
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::http::{StatusCode, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

pub struct HyperFetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl HyperFetcher {
    /// A client trusting the webpki roots and, when given, the CA certificates in the PEM
    /// file `ca_file`. A file that cannot be read or holds no certificate stops the start.
    pub fn new(ca_file: Option<&Path>) -> Result<HyperFetcher, Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ca_file {
            for cert in read_ca_file(path)? {
                roots.add(cert).map_err(|e| ca_error(path, e))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Setup(format!("TLS for archive fetches: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        Ok(HyperFetcher { client })
    }
}

fn ca_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Setup(format!(
        "fetch_ca_file {}: {e}; give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)",
        path.display()
    ))
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| ca_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_error(path, e))?;
    if certs.is_empty() {
        return Err(ca_error(path, "it holds no certificate"));
    }
    Ok(certs)
}

#[async_trait::async_trait]
impl Fetcher for HyperFetcher {
    async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| FetchError::InvalidUrl(e.to_string()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(FetchError::InvalidUrl(
                "only http:// and https:// URLs with a host are fetched".into(),
            ));
        }
        let response = self.client.get(uri.clone()).await.map_err(classify)?;
        let status = response.status();
        if matches!(
            status,
            StatusCode::MOVED_PERMANENTLY
                | StatusCode::FOUND
                | StatusCode::SEE_OTHER
                | StatusCode::TEMPORARY_REDIRECT
                | StatusCode::PERMANENT_REDIRECT
        ) {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok());
            return match location {
                Some(to) => Ok(Fetched::Redirect(resolve(&uri, to))),
                None => Err(FetchError::RedirectWithoutLocation(status.as_u16())),
            };
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.to_string(),
            });
        }
        let len = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let body = response.into_body().into_data_stream();
        Ok(Fetched::Body {
            body: Box::pin(body.map_err(|e| chain(&e))),
            len,
        })
    }
}

/// An error and its sources, `: `-joined.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What went wrong, for the uploader: rustls' verdict when there is one (hyper-rustls
/// puts it inside an `io::Error` inside another), else a connection or transport failure.
fn classify(e: hyper_util::client::legacy::Error) -> FetchError {
    if let Some(tls) = find_tls(&e) {
        return tls_problem(tls);
    }
    if e.is_connect() {
        FetchError::Connect(chain(&e))
    } else {
        FetchError::Broken(chain(&e))
    }
}

fn find_tls<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    // `io::Error::source` skips the error it wraps: look inside it first.
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        && let Some(tls) = find_tls(inner)
    {
        return Some(tls);
    }
    e.source().and_then(find_tls)
}

fn tls_problem(e: &rustls::Error) -> FetchError {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            FetchError::CertificateUntrusted(e.to_string())
        }
        rustls::Error::InvalidCertificate(_) => FetchError::CertificateInvalid(e.to_string()),
        _ => FetchError::Tls(e.to_string()),
    }
}

/// A `Location` made absolute against the URL that answered it.
fn resolve(base: &hyper::Uri, location: &str) -> String {
    let has_scheme = location.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if has_scheme {
        return location.to_owned();
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map_or("", |a| a.as_str());
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = base.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{scheme}://{authority}{dir}{location}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_url_that_answered() {
        let base: hyper::Uri = "https://a.test:8443/models/r1/x.mar?sig=1".parse().unwrap();
        for (location, want) in [
            ("https://b.test/y.mar", "https://b.test/y.mar"),
            ("//b.test/y.mar", "https://b.test/y.mar"),
            ("/y.mar", "https://a.test:8443/y.mar"),
            ("y.mar", "https://a.test:8443/models/r1/y.mar"),
            (
                "y.mar?a=b://c",
                "https://a.test:8443/models/r1/y.mar?a=b://c",
            ),
        ] {
            assert_eq!(resolve(&base, location), want, "{location}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let Err(e) = HyperFetcher::new(Some(&path)) else {
            panic!("accepted")
        };
        assert!(e.to_string().contains("holds no certificate"), "{e}");
        let Err(e) = HyperFetcher::new(Some(&dir.path().join("missing.pem"))) else {
            panic!("accepted")
        };
        assert!(e.to_string().contains("missing.pem"), "{e}");
        assert!(HyperFetcher::new(None).is_ok());
    }

    #[test]
    fn the_tls_verdict_is_found_inside_nested_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        assert!(matches!(
            find_tls(&io),
            Some(rustls::Error::InvalidCertificate(_))
        ));
        assert!(find_tls(&std::io::Error::other("refused")).is_none());
    }

    #[test]
    fn certificate_verdicts_are_told_apart() {
        use rustls::CertificateError as C;
        let unknown = rustls::Error::InvalidCertificate(C::UnknownIssuer);
        assert!(matches!(
            tls_problem(&unknown),
            FetchError::CertificateUntrusted(_)
        ));
        let expired = rustls::Error::InvalidCertificate(C::Expired);
        assert!(matches!(
            tls_problem(&expired),
            FetchError::CertificateInvalid(_)
        ));
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert!(matches!(tls_problem(&alert), FetchError::Tls(_)));
    }
}
