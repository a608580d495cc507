//! The gRPC edge in process: a `Core` over the testkit's `FakeRuntime` and a model store
//! of fake archives, both listeners served on port 0, and channels to them.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use ferroserve_core::{Core, ServerConfig};
use ferroserve_grpc::Grpc;
use ferroserve_test_fixtures as fx;
use ferroserve_testkit::{FakeModel, FakeRuntime, fake_archive};
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;

pub struct TestGrpc {
    pub core: Core,
    pub inference: Channel,
    pub management: Channel,
    pub inference_addr: SocketAddr,
    pub state: tempfile::TempDir,
    _store: tempfile::TempDir,
    /// The admin token, with `auth = "tokens"`.
    pub admin: Option<String>,
}

/// `echo.mar` (1.0), `echo-2.0.mar`, `slow.mar` (300 ms a batch), `sleepy.mar` (2.5 s),
/// behind the `ok` handler.
fn model_store(dir: &Path) {
    let double = FakeModel::default();
    fake_archive(dir, "echo.mar", "echo", "1.0", fx::OK, &double);
    fake_archive(dir, "echo-2.0.mar", "echo", "2.0", fx::OK, &double);
    let slow = FakeModel {
        delay_ms: 300,
        ..FakeModel::default()
    };
    fake_archive(dir, "slow.mar", "slow", "1.0", fx::OK, &slow);
    let sleepy = FakeModel {
        delay_ms: 2500,
        ..FakeModel::default()
    };
    fake_archive(dir, "sleepy.mar", "sleepy", "1.0", fx::OK, &sleepy);
}

impl TestGrpc {
    pub async fn open() -> TestGrpc {
        TestGrpc::with(|_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut ServerConfig)) -> TestGrpc {
        let store = tempfile::tempdir().unwrap();
        model_store(store.path());
        let state = tempfile::tempdir().unwrap();
        let mut config = ServerConfig {
            state_dir: state.path().to_path_buf(),
            model_store: Some(store.path().to_path_buf()),
            tenants_use_model_store: true,
            sandbox_threads: 4,
            max_handler_memory_mib: 64,
            handler_memory_mib: 32,
            handler_deadline_ms: 500,
            ..ServerConfig::default()
        };
        tweak(&mut config);
        let tokens = config.auth == "tokens";
        let core = Core::build(config, FakeRuntime::new(), None).unwrap();
        core.start().await.unwrap();
        let (inference, management) = Grpc::new(core.clone()).routes();
        let inference_addr = serve(inference).await;
        let management_addr = serve(management).await;
        let admin = tokens.then(|| {
            std::fs::read_to_string(state.path().join("admin.token"))
                .unwrap()
                .trim()
                .to_owned()
        });
        TestGrpc {
            core,
            inference: channel(inference_addr).await,
            management: channel(management_addr).await,
            inference_addr,
            state,
            _store: store,
            admin,
        }
    }
}

async fn serve<S>(service: S) -> SocketAddr
where
    S: tonic::codegen::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .serve_with_incoming(service, TcpIncoming::from(listener))
            .await
            .unwrap()
    });
    addr
}

pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// `request` with a bearer token (and an admin's acting-for tenant).
pub fn authed<T>(message: T, token: Option<&str>, tenant: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    if let Some(tenant) = tenant {
        request
            .metadata_mut()
            .insert("x-ferroserve-tenant", tenant.parse().unwrap());
    }
    request
}
