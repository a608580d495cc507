//! Registration by URL and `.tar.gz` archives, against the real binary: a local HTTPS
//! server (tokio-rustls, a CA and a certificate made at test time with rcgen) serves
//! archives; ferroserve fetches them over https:// and s3://, refuses what it must (an
//! untrusted certificate, a URL or redirect outside allowed_urls without connecting, a
//! stalled or oversized download) leaving nothing in its archives folder, and keeps
//! serving its other model in the same process throughout. Archives made by the real
//! `torch-model-archiver --archive-format tgz` register from the store, by upload and by URL.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::archives;
use common::server::{Server, post_json, send};
use https::{Https, Reply, Tls};

/// A local HTTPS server, one tokio runtime on its own thread.
mod https {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;

    /// What a path answers.
    #[derive(Clone)]
    pub enum Reply {
        File(Vec<u8>),
        /// 302 to this URL.
        Redirect(String),
        /// Declares `declared` bytes, sends `sent`, then holds the connection silently.
        Stall {
            declared: usize,
            sent: usize,
        },
        /// Reads the request and never answers.
        Silent,
        /// No Content-Length: zeros until the client hangs up.
        Flood,
        /// `Content-Length: declared`, then a few bytes.
        Declares(u64),
    }

    /// A CA (its PEM for ferroserve's --fetch-ca-file) and a server certificate for
    /// 127.0.0.1 signed by it.
    pub struct Tls {
        pub ca_pem: String,
        pub config: Arc<rustls::ServerConfig>,
    }

    impl Tls {
        pub fn new() -> Tls {
            use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
            let ca_key = KeyPair::generate().unwrap();
            let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.distinguished_name
                .push(DnType::CommonName, "ferroserve test CA");
            let ca_cert = ca.self_signed(&ca_key).unwrap();
            let issuer = Issuer::new(ca, ca_key);
            let key = KeyPair::generate().unwrap();
            let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![leaf.der().clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
                )
                .unwrap();
            Tls {
                ca_pem: ca_cert.pem(),
                config: Arc::new(config),
            }
        }
    }

    pub struct Https {
        pub addr: SocketAddr,
        routes: Arc<Mutex<HashMap<String, Reply>>>,
        connections: Arc<AtomicUsize>,
        paths: Arc<Mutex<Vec<String>>>,
    }

    impl Https {
        pub fn start(tls: &Tls) -> Https {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let server = Https {
                addr: listener.local_addr().unwrap(),
                routes: Arc::default(),
                connections: Arc::default(),
                paths: Arc::default(),
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
            let (routes, connections, paths) = (
                server.routes.clone(),
                server.connections.clone(),
                server.paths.clone(),
            );
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        connections.fetch_add(1, Ordering::SeqCst);
                        let (acceptor, routes, paths) =
                            (acceptor.clone(), routes.clone(), paths.clone());
                        tokio::spawn(async move {
                            // A client that refuses the certificate ends it here.
                            let Ok(mut tls) = acceptor.accept(tcp).await else {
                                return;
                            };
                            let mut head = Vec::new();
                            let mut buf = [0u8; 4096];
                            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                                match tls.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => head.extend_from_slice(&buf[..n]),
                                }
                            }
                            let text = String::from_utf8_lossy(&head);
                            let path = text.split_whitespace().nth(1).unwrap_or("").to_owned();
                            paths.lock().unwrap().push(path.clone());
                            let reply = routes.lock().unwrap().get(&path).cloned();
                            let _ = answer(&mut tls, reply).await;
                        });
                    }
                });
            });
            server
        }

        pub fn route(&self, path: &str, reply: Reply) {
            self.routes.lock().unwrap().insert(path.into(), reply);
        }

        pub fn url(&self, path: &str) -> String {
            format!("https://{}{path}", self.addr)
        }

        /// TCP connections accepted so far.
        pub fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }

        /// Request paths received so far.
        pub fn paths(&self) -> Vec<String> {
            self.paths.lock().unwrap().clone()
        }
    }

    async fn answer<S: tokio::io::AsyncWrite + Unpin>(
        s: &mut S,
        reply: Option<Reply>,
    ) -> std::io::Result<()> {
        let head = |status: &str, extra: &str| {
            format!("HTTP/1.1 {status}\r\n{extra}Connection: close\r\n\r\n").into_bytes()
        };
        match reply {
            None => {
                s.write_all(&head("404 Not Found", "Content-Length: 0\r\n"))
                    .await?
            }
            Some(Reply::File(body)) => {
                let len = format!("Content-Length: {}\r\n", body.len());
                s.write_all(&head("200 OK", &len)).await?;
                s.write_all(&body).await?;
            }
            Some(Reply::Redirect(to)) => {
                let extra = format!("Location: {to}\r\nContent-Length: 0\r\n");
                s.write_all(&head("302 Found", &extra)).await?;
            }
            Some(Reply::Stall { declared, sent }) => {
                let len = format!("Content-Length: {declared}\r\n");
                s.write_all(&head("200 OK", &len)).await?;
                s.write_all(&vec![b'P'; sent]).await?;
                s.flush().await?;
                tokio::time::sleep(Duration::from_secs(120)).await;
            }
            Some(Reply::Silent) => tokio::time::sleep(Duration::from_secs(120)).await,
            Some(Reply::Flood) => {
                s.write_all(&head("200 OK", "")).await?;
                let chunk = vec![0u8; 64 << 10];
                loop {
                    s.write_all(&chunk).await?;
                }
            }
            Some(Reply::Declares(n)) => {
                let len = format!("Content-Length: {n}\r\n");
                s.write_all(&head("200 OK", &len)).await?;
                s.write_all(&[0u8; 1000]).await?;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
        s.shutdown().await
    }
}

/// The server and its state directory (dropped in this order: the process first).
struct Setup {
    server: Server,
    state: tempfile::TempDir,
}

impl Setup {
    /// ferroserve with the test model store, `mlp` registered from it, and `args`.
    fn start(args: &[&str]) -> Setup {
        let state = tempfile::tempdir().unwrap();
        let store = archives::store().to_str().unwrap().to_owned();
        let mut all = vec!["--model-store", store.as_str(), "--models", "mlp=mlp.mar"];
        all.extend_from_slice(args);
        let server = Server::start(state.path(), &all);
        Setup { server, state }
    }

    fn register(&self, query: &str) -> common::server::Reply {
        send(
            "POST",
            &format!("{}/models?{query}", self.server.management),
            &[],
            b"",
        )
    }

    fn predict(&self, model: &str) -> u16 {
        post_json(
            &format!("{}/predictions/{model}", self.server.inference),
            "[1, 2, 3, 4]",
        )
        .status
    }

    /// Everything in `<state>/archives`, temporary files included.
    fn kept(&self) -> Vec<String> {
        match std::fs::read_dir(self.state.path().join("archives")) {
            Ok(dir) => dir
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The same process, still serving its first model.
    fn still_serving(&mut self, pid: u32) {
        assert!(self.server.is_running(), "{}", self.server.log());
        assert_eq!(self.server.pid(), pid);
        assert_eq!(self.predict("mlp"), 200);
    }
}

fn ca_file(dir: &Path, tls: &Tls) -> PathBuf {
    let path = dir.join("ca.pem");
    std::fs::write(&path, &tls.ca_pem).unwrap();
    path
}

fn mar(name: &str) -> Vec<u8> {
    std::fs::read(archives::store().join(name)).unwrap()
}

#[test]
fn https_and_s3_urls_register_and_predict() {
    let tls = Tls::new();
    let web = Https::start(&tls);
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(dir.path(), &tls);
    web.route("/models/mlp.mar", Reply::File(mar("mlp.mar")));
    web.route("/bucket/releases/mlp.mar", Reply::File(mar("mlp.mar")));
    web.route(
        "/models/moved.mar",
        Reply::Redirect(web.url("/models/mlp.mar")),
    );
    web.route(
        "/models/away.mar",
        Reply::Redirect(web.url("/elsewhere/mlp.mar")),
    );
    web.route("/elsewhere/mlp.mar", Reply::File(mar("mlp.mar")));
    let allowed = format!("{},s3://bucket/", web.url("/models/"));
    let endpoint = web.url("");
    let mut s = Setup::start(&[
        "--allowed-urls",
        &allowed,
        "--fetch-ca-file",
        ca.to_str().unwrap(),
        "--s3-endpoint",
        &endpoint,
    ]);
    let pid = s.server.pid();

    let url = web.url("/models/mlp.mar");
    let reply = s.register(&format!("url={url}&model_name=fetched"));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(s.predict("fetched"), 200);
    let described = common::server::get(&format!("{}/models/fetched", s.server.management));
    assert_eq!(described.json()[0]["modelUrl"], url.as_str());

    let reply = s.register("url=s3://bucket/releases/mlp.mar&model_name=froms3");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(s.predict("froms3"), 200);
    assert!(
        web.paths()
            .contains(&"/bucket/releases/mlp.mar".to_string())
    );

    // A redirect is followed when its target is allowed too, refused before it is
    // fetched when not.
    let reply = s.register(&format!(
        "url={}&model_name=moved",
        web.url("/models/moved.mar")
    ));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let message = s
        .register(&format!(
            "url={}&model_name=away",
            web.url("/models/away.mar")
        ))
        .assert_error(403, "UrlNotAllowed");
    assert!(message.contains("redirects to"), "{message}");
    assert!(!web.paths().contains(&"/elsewhere/mlp.mar".to_string()));

    // Outside allowed_urls: refused without a connection.
    let before = web.connections();
    for url in [
        web.url("/elsewhere/mlp.mar"),
        "s3://other-bucket/mlp.mar".into(),
        format!(
            "https://127.0.0.1:{}.evil.test/models/mlp.mar",
            web.addr.port()
        ),
    ] {
        let message = s
            .register(&format!("url={url}&model_name=denied"))
            .assert_error(403, "UrlNotAllowed");
        assert!(message.contains("allowed_urls"), "{message}");
    }
    assert_eq!(web.connections(), before, "{:?}", web.paths());
    s.still_serving(pid);
}

#[test]
fn an_untrusted_certificate_or_a_plain_http_port_is_a_clear_error() {
    let tls = Tls::new();
    let web = Https::start(&tls);
    web.route("/models/mlp.mar", Reply::File(mar("mlp.mar")));
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let plain_base = format!("https://{}/", plain.local_addr().unwrap());
    let plain_url = format!("{plain_base}models/mlp.mar");
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in plain.incoming().take(1) {
            let mut stream = stream.unwrap();
            let _ = stream.read(&mut [0u8; 4096]);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    // No --fetch-ca-file: the test CA is not trusted.
    let allowed = format!("{},{plain_base}", web.url("/"));
    let mut s = Setup::start(&["--allowed-urls", &allowed]);
    let pid = s.server.pid();
    let message = s
        .register(&format!("url={}", web.url("/models/mlp.mar")))
        .assert_error(502, "DownloadCertificateUntrusted");
    assert!(message.contains("--fetch-ca-file"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    let message = s
        .register(&format!("url={plain_url}"))
        .assert_error(502, "DownloadTlsFailed");
    assert!(message.contains("speaks HTTPS"), "{message}");
    assert!(web.paths().is_empty(), "no request went past the handshake");
    assert!(s.kept().is_empty(), "{:?}", s.kept());
    s.still_serving(pid);
}

#[test]
fn stalled_and_oversized_downloads_are_refused_leaving_nothing() {
    let tls = Tls::new();
    let web = Https::start(&tls);
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(dir.path(), &tls);
    let limit = mar("mlp.mar").len() + 100_000;
    web.route(
        "/models/stall.mar",
        Reply::Stall {
            declared: 50_000,
            sent: 1000,
        },
    );
    web.route("/models/silent.mar", Reply::Silent);
    web.route("/models/declared.mar", Reply::Declares(limit as u64 + 1));
    web.route("/models/flood.mar", Reply::Flood);
    web.route("/models/gone.mar", Reply::File(Vec::new()));
    let limit = limit.to_string();
    let mut s = Setup::start(&[
        "--allowed-urls",
        &web.url("/models/"),
        "--fetch-ca-file",
        ca.to_str().unwrap(),
        "--fetch-timeout-s",
        "1",
        "--max-upload-size",
        &limit,
    ]);
    let pid = s.server.pid();
    for (path, status, kind) in [
        ("/models/stall.mar", 504, "DownloadTimeout"),
        ("/models/silent.mar", 504, "DownloadTimeout"),
        ("/models/declared.mar", 413, "ArchiveTooLarge"),
        ("/models/flood.mar", 413, "ArchiveTooLarge"),
        ("/models/nothing-here.mar", 502, "DownloadArchiveException"),
        ("/models/gone.mar", 502, "DownloadArchiveException"),
    ] {
        let started = std::time::Instant::now();
        let message = s
            .register(&format!("url={}", web.url(path)))
            .assert_error(status, kind);
        assert!(
            message.contains(&web.url(path)) || kind == "ArchiveTooLarge",
            "{message}"
        );
        assert!(
            started.elapsed().as_secs() < 30,
            "{path}: {:?}",
            started.elapsed()
        );
        assert!(s.kept().is_empty(), "{path}: {:?}", s.kept());
        s.still_serving(pid);
    }
}

fn venv_bin(tool: &str) -> PathBuf {
    let python = std::env::var("FERROSERVE_PYTHON")
        .unwrap_or_else(|_| "/root/.cache/ferroserve/venv/bin/python".into());
    Path::new(&python).with_file_name(tool)
}

/// `torch-model-archiver --archive-format tgz` of the test MLP behind the `ok` handler,
/// as `<out>/<name>.tar.gz`; `None` when the tool is not installed.
fn archiver_tgz(name: &str, out: &Path) -> Option<PathBuf> {
    let tool = venv_bin("torch-model-archiver");
    if !tool.exists() {
        eprintln!(
            "SKIPPED: {} is not installed (scripts/setup.sh installs it)",
            tool.display()
        );
        return None;
    }
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let model = ferroserve_torch::test_models::TestModels::get().model("mlp");
    std::fs::copy(model, d.join("model.pt")).unwrap();
    // torch-model-archiver 0.12 copies `--handler handler.wasm` from `handler.wasm.py`.
    std::fs::copy(ferroserve_test_fixtures::OK, d.join("handler.wasm.py")).unwrap();
    let run = Command::new(&tool)
        .current_dir(d)
        .args(["--model-name", name, "--version", "1.0"])
        .args(["--serialized-file", "model.pt", "--handler", "handler.wasm"])
        .args(["--archive-format", "tgz", "--export-path"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let path = out.join(format!("{name}.tar.gz"));
    assert_eq!(&std::fs::read(&path).unwrap()[..2], [0x1f, 0x8b]);
    Some(path)
}

#[test]
fn a_tgz_from_torch_model_archiver_registers_from_the_store_by_upload_and_by_url() {
    let store = tempfile::tempdir().unwrap();
    let Some(tgz) = archiver_tgz("mlptgz", store.path()) else {
        return;
    };
    let bytes = std::fs::read(&tgz).unwrap();
    let tls = Tls::new();
    let web = Https::start(&tls);
    let ca = ca_file(store.path(), &tls);
    // Named .mar on the web: the bytes decide, not the name.
    web.route("/models/mlptgz.mar", Reply::File(bytes.clone()));
    let state = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        state.path(),
        &[
            "--model-store",
            store.path().to_str().unwrap(),
            "--models",
            "all",
            "--allowed-urls",
            &web.url("/models/"),
            "--fetch-ca-file",
            ca.to_str().unwrap(),
        ],
    );
    let predict = |model: &str| {
        let reply = post_json(
            &format!("{}/predictions/{model}", server.inference),
            "[1, 2, 3, 4]",
        );
        assert_eq!(reply.status, 200, "{model}: {}", reply.text());
        reply.json()
    };
    // --models all loaded it from the store at start.
    let expected = predict("mlptgz");
    let m = &server.management;
    let reply = send(
        "POST",
        &format!("{m}/models?url=mlptgz.tar.gz&model_name=again"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(predict("again"), expected);
    let reply = send(
        "POST",
        &format!("{m}/models?model_name=uploaded"),
        &[],
        &bytes,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(predict("uploaded"), expected);
    let url = web.url("/models/mlptgz.mar");
    let reply = send(
        "POST",
        &format!("{m}/models?url={url}&model_name=fetched"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(predict("fetched"), expected);
    let names: HashMap<String, serde_json::Value> = common::server::get(&format!("{m}/models"))
        .json()["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["modelName"].as_str().unwrap().to_owned(),
                d["modelUrl"].clone(),
            )
        })
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(server.is_running());
}
