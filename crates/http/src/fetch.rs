//! The core's [`Fetcher`] seam over hyper: plain `http://` GETs of archives under the
//! operator's allowed prefixes (the prefix check is the core's). No TLS stack: put a
//! TLS-terminating proxy on the allowed prefix.

use bytes::Bytes;
use ferroserve_core::{ByteStream, Error, Fetcher};
use futures_util::TryStreamExt;
use http_body_util::BodyExt;

pub struct HyperFetcher;

#[async_trait::async_trait]
impl Fetcher for HyperFetcher {
    async fn get(&self, url: &str) -> Result<ByteStream, Error> {
        let uri: hyper::Uri =
            url.parse()
                .map_err(|e: hyper::http::uri::InvalidUri| Error::InvalidUrl {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
        if uri.scheme_str() != Some("http") {
            return Err(Error::UnsupportedUrlScheme(url.to_owned()));
        }
        let failed = |reason: String| Error::DownloadFailed {
            url: url.to_owned(),
            reason,
        };
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<Bytes>>();
        let response = client.get(uri).await.map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("the server answered {}", response.status())));
        }
        let body = response.into_body().into_data_stream();
        Ok(Box::pin(body.map_err(|e| e.to_string())))
    }
}
