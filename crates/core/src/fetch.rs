//! Fetching a registration's archive by URL. The policy is the core's: which URLs may be
//! fetched (`allowed_urls`, checked on the URL as the user wrote it, before any network
//! access, and again on every redirect target), what `s3://bucket/key` means (an unsigned
//! GET of `{s3_endpoint}/{bucket}/{key}`), how many redirects are followed (5), how long a
//! silent server is waited for (`fetch_timeout_s`, for the response and between body
//! bytes) and how large an archive may be (`max_upload_size`, from the declared length and
//! again while streaming). The transport is the [`Fetcher`] seam's: one GET, redirects
//! not followed (the HTTP crate implements it with hyper and rustls).

use std::path::PathBuf;

use futures_util::StreamExt;

use crate::Error;
use crate::fetcher::{FetchError, Fetched};
use crate::store::{ArchiveStore, Limit, Sink};

/// Redirects followed before a fetch gives up.
pub const MAX_REDIRECTS: usize = 5;

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
            url: redacted(url),
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
            _ => Err(Error::UnsupportedUrlScheme(redacted(url))),
        }
    }

    /// Fetches `url` into `kept/<sha256>.mar`, refusing it past `max_bytes`.
    pub(crate) async fn fetch(&self, url: &str) -> Result<PathBuf, Error> {
        if has_dot_segments(url) {
            return Err(Error::InvalidUrl {
                url: redacted(url),
                reason: "its path has a `.` or `..` segment; give the archive's URL without them"
                    .into(),
            });
        }
        if !self.allows(url) {
            return Err(Error::UrlNotAllowed(redacted(url)));
        }
        let Some(fetcher) = &self.fetcher else {
            return Err(Error::FetchUnavailable(redacted(url)));
        };
        let failed = |problem: FetchError| match problem {
            FetchError::InvalidUrl(reason) => Error::InvalidUrl {
                url: redacted(url),
                reason,
            },
            problem => Error::Fetch {
                url: redacted(url),
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
                            url: redacted(url),
                            to: redacted(&to),
                        });
                    }
                    target = match self.transport_url(&to)? {
                        t if t == to => t,
                        // No redirect to an s3:// name: only http(s) are followed.
                        _ => return Err(Error::UnsupportedUrlScheme(redacted(&to))),
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
                Some(Ok(chunk)) => sink.write(chunk, Limit::Server(self.max_bytes)).await?,
            }
        }
        if sink.is_empty() {
            return Err(failed(FetchError::Empty));
        }
        Ok(sink.finish(&self.kept, &self.holds).await?.0)
    }
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;

/// `url` as messages and the audit log show it: credentials in the authority
/// (`user:password@`) and the query string (presigned signatures, tokens) replaced by
/// `***`, so a secret in a URL is never echoed or logged.
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some(parts) => parts,
        None => return url.to_owned(),
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, _)) => (b, "?***"),
        None => (rest, ""),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{path}{query}")
}

#[cfg(test)]
mod redaction_tests {
    use super::redacted;

    #[test]
    fn credentials_in_urls_are_never_shown() {
        assert_eq!(
            redacted("https://alice:s3cret@models.example/m.mar"),
            "https://***@models.example/m.mar"
        );
        assert_eq!(
            redacted("https://b.s3.amazonaws.com/m.mar?X-Amz-Signature=abc&x=1"),
            "https://b.s3.amazonaws.com/m.mar?***"
        );
        assert_eq!(
            redacted("http://host:8000/a/b.mar"),
            "http://host:8000/a/b.mar"
        );
        assert_eq!(redacted("digits.mar"), "digits.mar");
        assert_eq!(redacted("http://u@h"), "http://***@h");
    }
}
