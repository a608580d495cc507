//! The server every input is sent to: the whole REST app (`App::build` over the fake
//! runtime, no libtorch) with a model store of fake archives and its own state directory,
//! built once per process with a current-thread tokio runtime, since a fuzzer calls the
//! target millions of times from one thread. `echo` (1.0, the well-behaved `ok` handler in
//! front of a model that doubles its input) is registered before the first input.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use ferroserve_core::tenancy::Principal;
use ferroserve_core::{Core, ServerConfig};
use ferroserve_http::App;
use ferroserve_test_fixtures as fx;
use ferroserve_testkit::{FakeModel, FakeRuntime, fake_archive};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Longer than any request to the fake models should take; the app's own request timeout
/// (a 504) is set a little longer, so a hang shows here first, as a hang.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// Which listener a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Inference,
    Management,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Server {
    runtime: tokio::runtime::Runtime,
    app: App,
    /// Every directory the server was given: none may appear in a response.
    pub private_paths: Vec<PathBuf>,
    /// `echo`'s worker bounds once registered, restored by [`Server::reset`].
    bounds: OnceLock<(usize, usize)>,
    _state: tempfile::TempDir,
    _store: tempfile::TempDir,
}

/// The model the targets send to, registered before the first input.
pub const MODEL: &str = "echo";

impl Server {
    /// The process's server, built on first use.
    pub fn get() -> &'static Server {
        static SERVER: OnceLock<Server> = OnceLock::new();
        SERVER.get_or_init(Server::start)
    }

    fn start() -> Server {
        let store = tempfile::tempdir().expect("a temporary directory for the model store");
        let state = tempfile::tempdir().expect("a temporary directory for the state");
        let double = FakeModel::default();
        fake_archive(store.path(), "echo.mar", "echo", "1.0", fx::OK, &double);
        fake_archive(store.path(), "echo-2.0.mar", "echo", "2.0", fx::OK, &double);
        let config = ServerConfig {
            state_dir: state.path().to_path_buf(),
            model_store: Some(store.path().to_path_buf()),
            sandbox_threads: 2,
            max_handler_memory_mib: 64,
            handler_memory_mib: 32,
            handler_deadline_ms: 2_000,
            request_timeout_s: REQUEST_LIMIT.as_secs() + 5,
            ..ServerConfig::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        // Inside the runtime: building the core may spawn tasks.
        let app = {
            let _inside = runtime.enter();
            App::build(config, FakeRuntime::new()).expect("building the app")
        };
        let mut private_paths = vec![state.path().to_path_buf(), store.path().to_path_buf()];
        // Canonical forms too (/tmp may be a link), and this source tree (panic locations).
        private_paths.extend(
            private_paths
                .clone()
                .iter()
                .filter_map(|p| p.canonicalize().ok()),
        );
        private_paths.push(workspace_root());
        let server = Server {
            runtime,
            app,
            private_paths,
            bounds: OnceLock::new(),
            _state: state,
            _store: store,
        };
        server.register_echo();
        let echo = server
            .core()
            .manager
            .registry()
            .get(&Principal::Open.qualify(MODEL), None)
            .expect("just registered");
        let stats = echo.pipeline.batcher().stats();
        let _ = server.bounds.set((stats.min_workers, stats.max_workers));
        server
    }

    pub fn core(&self) -> &Core {
        &self.app.core
    }

    /// Sends `request` and reads the response; `None` when it took over [`REQUEST_LIMIT`].
    pub fn send(&self, on: On, request: Request<Body>) -> Option<Answer> {
        let router: Router = match on {
            On::Inference => self.app.inference.clone(),
            On::Management => self.app.management.clone(),
        };
        self.runtime.block_on(async {
            let exchange = async {
                let response = router
                    .oneshot(request)
                    .await
                    .expect("routers are infallible");
                let (parts, body) = response.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_else(|e| Bytes::from(format!("(unreadable body: {e})")));
                Answer {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                }
            };
            tokio::time::timeout(REQUEST_LIMIT, exchange).await.ok()
        })
    }

    /// Puts the registry back as [`Server::start`] left it: only `echo` 1.0, the default,
    /// with the worker bounds it was registered with (registered again if an input
    /// unregistered it). What one input registers or scales must not change what the next
    /// one meets, nor pile up models and threads over millions of inputs.
    pub fn reset(&self) {
        let manager = self.app.core.manager.clone();
        let mut baseline_left = false;
        self.runtime.block_on(async {
            for (model, _) in manager.registry().all() {
                let baseline =
                    model.key.tenant.is_none() && model.key.name == MODEL && model.version == "1.0";
                if baseline {
                    baseline_left = true;
                    let (min, max) = *self.bounds.get().expect("set at start");
                    let stats = model.pipeline.batcher().stats();
                    if (stats.min_workers, stats.max_workers) != (min, max) {
                        let _ = model.pipeline.batcher().scale(min, max);
                    }
                } else {
                    let _ = manager
                        .unregister(&Principal::Open, &model.key, Some(model.version.as_str()))
                        .await;
                }
            }
            if baseline_left {
                let key = Principal::Open.qualify(MODEL);
                let _ = manager.set_default(&Principal::Open, &key, "1.0").await;
            }
        });
        if !baseline_left {
            self.register_echo();
        }
    }

    /// Registers `echo` 1.0 with one worker; the targets cannot run without it.
    fn register_echo(&self) {
        let request = Request::post("/models?url=echo.mar&initial_workers=1")
            .body(Body::empty())
            .expect("a valid request");
        match self.send(On::Management, request) {
            Some(a) if a.status.is_success() => {}
            other => panic!("registering {MODEL} for the fuzz targets failed: {other:?}"),
        }
    }
}

/// The checkout this crate was built from: panic messages name files under it.
fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.parent().and_then(Path::parent).unwrap_or(here);
    root.canonicalize().unwrap_or_else(|_| root.to_path_buf())
}
