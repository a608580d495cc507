//! The whole REST app in process: `App::build` over the fake runtime, a model store of
//! fake archives, and a state directory of its own; requests go to each listener's router
//! with `oneshot`, as a given bearer token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use ferroserve_core::ServerConfig;
use ferroserve_http::App;
use ferroserve_test_fixtures as fx;
use ferroserve_testkit::{FakeModel, FakeRuntime, fake_archive};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Which listener a request goes to.
#[derive(Debug, Clone, Copy)]
pub enum On {
    Inference,
    Management,
    Metrics,
}

pub struct TestApp {
    pub app: App,
    pub runtime: Arc<FakeRuntime>,
    pub state: tempfile::TempDir,
    pub store: PathBuf,
    _store_dir: tempfile::TempDir,
    /// The admin token, with `auth = "tokens"`.
    pub admin: Option<String>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
    pub bytes: axum::body::Bytes,
}

impl Answer {
    /// TorchServe's error JSON with this status and type; returns the message.
    pub fn error(&self, code: u16, kind: &str) -> String {
        assert_eq!(self.status.as_u16(), code, "{}", self.text);
        assert_eq!(self.json["code"], code, "{}", self.text);
        assert_eq!(self.json["type"], kind, "{}", self.text);
        self.json["message"].as_str().unwrap().to_owned()
    }

    /// The error in the shape the path's protocol uses: v2's `{"error"}` under `/v2`,
    /// TorchServe's (with `kind`) elsewhere; returns the message.
    pub fn error_at(&self, path: &str, code: u16, kind: &str) -> String {
        if !path.starts_with("/v2") {
            return self.error(code, kind);
        }
        assert_eq!(self.status.as_u16(), code, "{}", self.text);
        let obj = self
            .json
            .as_object()
            .unwrap_or_else(|| panic!("{}", self.text));
        assert_eq!(obj.keys().collect::<Vec<_>>(), ["error"], "{}", self.text);
        obj["error"].as_str().unwrap().to_owned()
    }

    pub fn ok(&self) -> &Value {
        assert!(self.status.is_success(), "{} {}", self.status, self.text);
        &self.json
    }
}

/// The model store every test app gets: `echo.mar` (1.0), `echo-2.0.mar`, `spin.mar`
/// (a handler that loops), `slow.mar` (a model that takes 300 ms a batch), `broken.mar`
/// (a model that fails to load), all behind the `ok` handler unless named otherwise.
fn model_store(dir: &Path) {
    let double = FakeModel::default();
    fake_archive(dir, "echo.mar", "echo", "1.0", fx::OK, &double);
    fake_archive(dir, "echo-2.0.mar", "echo", "2.0", fx::OK, &double);
    fake_archive(dir, "spin.mar", "spin", "1.0", fx::SPIN, &double);
    let slow = FakeModel {
        delay_ms: 300,
        ..FakeModel::default()
    };
    fake_archive(dir, "slow.mar", "slow", "1.0", fx::OK, &slow);
    let broken = FakeModel {
        fail_load: Some("RuntimeError: the fake model refuses to load".into()),
        ..FakeModel::default()
    };
    fake_archive(dir, "broken.mar", "broken", "1.0", fx::OK, &broken);
}

pub fn config(state: &Path, store: &Path, tokens: bool) -> ServerConfig {
    ServerConfig {
        state_dir: state.to_path_buf(),
        model_store: Some(store.to_path_buf()),
        auth: if tokens { "tokens" } else { "none" }.into(),
        // The in-process tests' tenants register the store's fake archives by name.
        tenants_use_model_store: true,
        sandbox_threads: 4,
        max_handler_memory_mib: 64,
        handler_memory_mib: 32,
        handler_deadline_ms: 500,
        ..ServerConfig::default()
    }
}

impl TestApp {
    pub fn open() -> TestApp {
        TestApp::with(|_| {})
    }

    pub fn tokens() -> TestApp {
        TestApp::with(|c| c.auth = "tokens".into())
    }

    pub fn with(tweak: impl FnOnce(&mut ServerConfig)) -> TestApp {
        let store_dir = tempfile::tempdir().unwrap();
        model_store(store_dir.path());
        let state = tempfile::tempdir().unwrap();
        let mut config = config(state.path(), store_dir.path(), false);
        tweak(&mut config);
        TestApp::build(config, state, store_dir)
    }

    fn build(config: ServerConfig, state: tempfile::TempDir, store: tempfile::TempDir) -> TestApp {
        let runtime = FakeRuntime::new();
        let tokens = config.auth == "tokens";
        let app = App::build(config, runtime.clone()).unwrap();
        let admin = tokens.then(|| {
            std::fs::read_to_string(state.path().join("admin.token"))
                .unwrap()
                .trim()
                .to_owned()
        });
        TestApp {
            app,
            runtime,
            store: store.path().to_path_buf(),
            _store_dir: store,
            state,
            admin,
        }
    }

    /// Drops this app (its models' queues drained) and builds another on the same state
    /// directory and model store, then starts it: what a restart does.
    pub async fn restart(self) -> TestApp {
        let config = (*self.app.core.config).clone();
        self.app.core.shutdown().await;
        let TestApp {
            app,
            state,
            _store_dir,
            ..
        } = self;
        drop(app);
        let again = TestApp::build(config, state, _store_dir);
        again.app.core.start().await.unwrap();
        again
    }

    pub async fn call(
        &self,
        on: On,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        self.send(on, method, uri, token, &[], body).await
    }

    pub async fn send(
        &self,
        on: On,
        method: &str,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Answer {
        let router = match on {
            On::Inference => &self.app.inference,
            On::Management => &self.app.management,
            On::Metrics => &self.app.metrics,
        };
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .clone()
            .oneshot(request.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
            bytes,
        }
    }

    /// `POST /models?url=FILE` (plus `extra` query parameters) as `token`.
    pub async fn register(&self, token: Option<&str>, file: &str, extra: &str) -> Answer {
        let uri = format!("/models?url={file}{extra}");
        self.call(On::Management, "POST", &uri, token, Body::empty())
            .await
    }

    /// `POST /predictions/{model}` with a JSON array.
    pub async fn predict(&self, token: Option<&str>, model: &str, input: &str) -> Answer {
        let uri = format!("/predictions/{model}");
        let json = [("content-type", "application/json")];
        self.send(On::Inference, "POST", &uri, token, &json, input.to_owned())
            .await
    }

    /// Creates tenant `name` with `quotas` (JSON) as the admin; returns its token.
    pub async fn tenant(&self, name: &str, quotas: &str) -> String {
        let body = format!(r#"{{"name": "{name}", "quotas": {quotas}}}"#);
        let a = self
            .send(
                On::Management,
                "POST",
                "/tenants",
                self.admin.as_deref(),
                &[("content-type", "application/json")],
                body,
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        a.json["token"].as_str().unwrap().to_owned()
    }

    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.state.path().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
