//! The fetch policy against a scripted [`Fetcher`]: what is asked of the transport, in
//! what order, and what is left in the archives folder.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::{Class, Fetcher};

/// What the fake answers for a URL.
#[derive(Clone)]
enum Script {
    Body(Vec<u8>, Option<u64>),
    /// `n` bytes, then silence.
    StallAfter(usize),
    /// Never answers at all.
    Hang,
    Redirect(String),
    Fail(FetchError),
}

#[derive(Default)]
struct Fake {
    scripts: HashMap<String, Script>,
    asked: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Fetcher for Fake {
    async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        self.asked.lock().unwrap().push(url.to_owned());
        match self.scripts.get(url).cloned() {
            None => Err(FetchError::Status {
                status: "404 Not Found".into(),
            }),
            Some(Script::Body(bytes, len)) => Ok(Fetched::Body {
                body: Box::pin(futures_util::stream::iter(
                    bytes
                        .chunks(1000)
                        .map(|c| Ok(Bytes::copy_from_slice(c)))
                        .collect::<Vec<_>>(),
                )),
                len,
            }),
            Some(Script::StallAfter(n)) => Ok(Fetched::Body {
                body: Box::pin(
                    futures_util::stream::iter([Ok(Bytes::from(vec![1u8; n]))])
                        .chain(futures_util::stream::pending()),
                ),
                len: None,
            }),
            Some(Script::Hang) => futures_util::future::pending().await,
            Some(Script::Redirect(to)) => Ok(Fetched::Redirect(to)),
            Some(Script::Fail(e)) => Err(e),
        }
    }
}

struct Setup {
    store: ArchiveStore,
    fake: Arc<Fake>,
    _dir: tempfile::TempDir,
}

fn setup(allowed: &[&str], scripts: &[(&str, Script)]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake {
        scripts: scripts
            .iter()
            .map(|(u, s)| (u.to_string(), s.clone()))
            .collect(),
        ..Fake::default()
    });
    let store = ArchiveStore {
        model_store: None,
        kept: dir.path().join("archives"),
        allowed_urls: allowed.iter().map(|s| s.to_string()).collect(),
        max_bytes: 10_000,
        s3_endpoint: "https://s3.test".into(),
        fetch_timeout: Duration::from_millis(200),
        fetcher: Some(fake.clone()),
        tenants_use_model_store: false,
        holds: Default::default(),
    };
    Setup {
        store,
        fake,
        _dir: dir,
    }
}

impl Setup {
    fn asked(&self) -> Vec<String> {
        self.fake.asked.lock().unwrap().clone()
    }
    /// Whatever is in the archives folder (temporary files included).
    fn kept(&self) -> Vec<String> {
        match std::fs::read_dir(&self.store.kept) {
            Ok(dir) => dir
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[tokio::test]
async fn an_allowed_url_is_kept_by_its_hash() {
    let s = setup(
        &["https://models.test/"],
        &[(
            "https://models.test/a.mar",
            Script::Body(b"archive".to_vec(), Some(7)),
        )],
    );
    let path = s.store.fetch("https://models.test/a.mar").await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"archive");
    assert_eq!(s.kept().len(), 1);
    assert!(path.to_str().unwrap().ends_with(".mar"));
}

#[tokio::test]
async fn nothing_is_asked_of_the_transport_outside_the_allowed_prefixes() {
    let s = setup(&["https://models.test/releases/", "https://bare.test"], &[]);
    for url in [
        "https://models.test/other/a.mar",
        "http://models.test/releases/a.mar",
        "https://bare.test.evil.net/a.mar",
        "https://bare.test@evil.net/a.mar",
        "https://bare.test:8443/a.mar",
    ] {
        let e = s.store.fetch(url).await.unwrap_err();
        assert_eq!(
            (&*e.kind(), e.class()),
            ("UrlNotAllowed", Class::Forbidden),
            "{url}"
        );
    }
    let e = s
        .store
        .fetch("https://models.test/releases/../secret/a.mar")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "InvalidUrl", "{e}");
    let e = s
        .store
        .fetch("https://models.test/releases/%2E%2e/secret/a.mar")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "InvalidUrl", "{e}");
    assert!(s.asked().is_empty(), "{:?}", s.asked());
    assert!(prefix_allows(
        "https://bare.test",
        "https://bare.test/a.mar"
    ));
    assert!(prefix_allows("https://bare.test", "https://bare.test?x"));
    assert!(prefix_allows("https://", "https://any.test/x.mar"));
}

#[tokio::test]
async fn s3_urls_are_checked_as_written_and_fetched_from_the_endpoint() {
    let s = setup(
        &["s3://models/"],
        &[(
            "https://s3.test/models/r/a.mar",
            Script::Body(b"a".to_vec(), None),
        )],
    );
    s.store.fetch("s3://models/r/a.mar").await.unwrap();
    assert_eq!(s.asked(), ["https://s3.test/models/r/a.mar"]);
    // The endpoint's URL is not what the operator allowed.
    let e = s
        .store
        .fetch("https://s3.test/models/r/a.mar")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "UrlNotAllowed");
    let e = s.store.fetch("s3://models-evil/a.mar").await.unwrap_err();
    assert_eq!(e.kind(), "UrlNotAllowed");
    for bad in ["s3://models/", "s3://models"] {
        let s = setup(&["s3://"], &[]);
        let e = s.store.fetch(bad).await.unwrap_err();
        assert_eq!(e.kind(), "InvalidUrl", "{bad}: {e}");
        assert!(e.to_string().contains("s3://BUCKET/KEY"), "{e}");
    }
}

#[tokio::test]
async fn redirects_are_followed_only_to_allowed_urls() {
    let s = setup(
        &["https://a.test/", "https://b.test/"],
        &[
            (
                "https://a.test/x.mar",
                Script::Redirect("https://b.test/x.mar".into()),
            ),
            ("https://b.test/x.mar", Script::Body(b"x".to_vec(), None)),
            (
                "https://a.test/out.mar",
                Script::Redirect("https://evil.test/x.mar".into()),
            ),
            (
                "https://a.test/loop.mar",
                Script::Redirect("https://a.test/loop.mar".into()),
            ),
            (
                "https://a.test/s3.mar",
                Script::Redirect("s3://bucket/x.mar".into()),
            ),
        ],
    );
    s.store.fetch("https://a.test/x.mar").await.unwrap();
    let e = s.store.fetch("https://a.test/out.mar").await.unwrap_err();
    assert_eq!((&*e.kind(), e.class()), ("UrlNotAllowed", Class::Forbidden));
    assert!(
        e.to_string()
            .contains("redirects to https://evil.test/x.mar"),
        "{e}"
    );
    let e = s.store.fetch("https://a.test/loop.mar").await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Fetch {
                problem: FetchError::TooManyRedirects(5),
                ..
            }
        ),
        "{e}"
    );
    let asked = s.asked();
    assert!(!asked.iter().any(|u| u.contains("evil")), "{asked:?}");
    assert_eq!(asked.iter().filter(|u| u.ends_with("loop.mar")).count(), 6);
}

#[tokio::test]
async fn too_large_is_refused_by_length_and_while_streaming_leaving_nothing() {
    let s = setup(
        &["https://a.test/"],
        &[
            (
                "https://a.test/declared.mar",
                Script::Body(vec![0; 10], Some(20_000)),
            ),
            (
                "https://a.test/streamed.mar",
                Script::Body(vec![0; 20_000], None),
            ),
        ],
    );
    for url in ["https://a.test/declared.mar", "https://a.test/streamed.mar"] {
        let e = s.store.fetch(url).await.unwrap_err();
        assert_eq!(
            (&*e.kind(), e.class()),
            ("ArchiveTooLarge", Class::TooLarge),
            "{url}"
        );
        assert!(s.kept().is_empty(), "{url}: {:?}", s.kept());
    }
}

#[tokio::test]
async fn a_silent_server_is_given_up_on_leaving_nothing() {
    let s = setup(
        &["https://a.test/"],
        &[
            ("https://a.test/hang.mar", Script::Hang),
            ("https://a.test/stall.mar", Script::StallAfter(100)),
        ],
    );
    for url in ["https://a.test/hang.mar", "https://a.test/stall.mar"] {
        let e = s.store.fetch(url).await.unwrap_err();
        assert_eq!(
            (&*e.kind(), e.class()),
            ("DownloadTimeout", Class::Timeout),
            "{url}"
        );
        assert!(e.to_string().contains("fetch_timeout_s"), "{e}");
        assert!(s.kept().is_empty(), "{url}: {:?}", s.kept());
    }
}

#[tokio::test]
async fn transport_failures_keep_their_kind_and_name_the_url() {
    let s = setup(
        &["https://a.test/"],
        &[
            (
                "https://a.test/tls.mar",
                Script::Fail(FetchError::CertificateUntrusted("UnknownIssuer".into())),
            ),
            (
                "https://a.test/empty.mar",
                Script::Body(Vec::new(), Some(0)),
            ),
        ],
    );
    let e = s.store.fetch("https://a.test/tls.mar").await.unwrap_err();
    assert_eq!(
        (&*e.kind(), e.class()),
        ("DownloadCertificateUntrusted", Class::Upstream)
    );
    let text = e.to_string();
    assert!(
        text.starts_with("fetching https://a.test/tls.mar failed: "),
        "{text}"
    );
    assert!(text.contains("--fetch-ca-file"), "{text}");
    let e = s
        .store
        .fetch("https://a.test/missing.mar")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "DownloadArchiveException");
    assert!(e.to_string().contains("404 Not Found"), "{e}");
    let e = s.store.fetch("https://a.test/empty.mar").await.unwrap_err();
    assert!(e.to_string().contains("empty body"), "{e}");
    let s = setup(&["ftp://a.test/"], &[]);
    let e = s.store.fetch("ftp://a.test/x.mar").await.unwrap_err();
    assert_eq!(e.kind(), "UnsupportedUrlScheme");
}

#[tokio::test]
async fn a_store_without_a_fetcher_says_so() {
    let mut s = setup(&["https://a.test/"], &[]);
    s.store.fetcher = None;
    let e = s.store.fetch("https://a.test/x.mar").await.unwrap_err();
    assert_eq!(
        (&*e.kind(), e.class()),
        ("UrlFetchUnavailable", Class::BadRequest)
    );
    assert!(e.to_string().contains("upload the archive"), "{e}");
}
