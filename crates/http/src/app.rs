//! [`App`]: the whole REST server in process. [`App::build`] assembles the core and the
//! three listeners' routers (inference, management, metrics), each with auth and the tower
//! stack, binding nothing, so tests drive them with `oneshot`. [`App::serve`] binds the
//! listeners, starts the core (snapshot, start-up models) before they answer, and shuts
//! down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use ferroserve_core::tenancy::{Api, Auth};
use ferroserve_core::{Core, ModelRuntime, ServerConfig};
use tokio::net::TcpListener;

use crate::fetch::HyperFetcher;
use crate::{
    HttpLimits, ServeError, auth, inference, kserve, layers, management, openapi, tenants,
};

/// The REST server: its core and one router per listener, every layer applied.
#[derive(Clone)]
pub struct App {
    pub core: Core,
    pub inference: Router,
    pub management: Router,
    pub metrics: Router,
}

/// The addresses actually bound (port 0 resolved).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub inference: SocketAddr,
    pub management: SocketAddr,
    pub metrics: SocketAddr,
}

impl App {
    pub fn build(config: ServerConfig, runtime: Arc<dyn ModelRuntime>) -> Result<App, ServeError> {
        let fetcher = HyperFetcher::new(config.fetch_ca_file.as_deref())?;
        let core = Core::build(config, runtime, Some(Arc::new(fetcher)))?;
        Ok(App::around(core))
    }

    /// The routers over an already built core.
    pub fn around(core: Core) -> App {
        let config = &core.config;
        let registry = core.manager.registry().clone();
        let guard = |router: Router, api: Api| guarded(router, &core.auth, api);
        let inference = inference::router(registry.clone())
            .merge(kserve::router(registry.clone()))
            .merge(openapi::inference_description());
        let management = management::router(core.manager.clone())
            .merge(tenants::router(core.manager.clone()))
            .merge(openapi::management_description());
        let metrics = crate::metrics::router(core.manager.metrics(), registry);
        let limits = HttpLimits::of(config);
        App {
            inference: layers::apply(guard(inference, Api::Inference), "inference", &limits),
            management: layers::apply(
                guard(management, Api::Management),
                "management",
                &HttpLimits::for_uploads(config),
            ),
            metrics: layers::apply(guard(metrics, Api::Metrics), "metrics", &limits),
            core,
        }
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests
    /// finish and drains every model's queue. `on_ready` is called once the models are
    /// loaded and the listeners answer.
    pub async fn serve(
        self,
        on_ready: impl FnOnce(Bound),
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let config = self.core.config.clone();
        let listen = |api, addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { api, addr, source })
        };
        let inference = listen("inference", config.inference_address).await?;
        let management = listen("management", config.management_address).await?;
        let metrics = listen("metrics", config.metrics_address).await?;
        self.core.start().await?;
        let bound = Bound {
            inference: inference.local_addr().map_err(ServeError::Serve)?,
            management: management.local_addr().map_err(ServeError::Serve)?,
            metrics: metrics.local_addr().map_err(ServeError::Serve)?,
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let run = |listener: TcpListener, app: Router| {
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await
            })
        };
        let servers = [
            run(inference, self.inference),
            run(management, self.management),
            run(metrics, self.metrics),
        ];
        on_ready(bound);
        for server in servers {
            match server.await {
                Ok(result) => result.map_err(ServeError::Serve)?,
                Err(e) => return Err(ServeError::Serve(std::io::Error::other(e))),
            }
        }
        tracing::info!("listeners closed; draining model queues");
        self.core.shutdown().await;
        Ok(())
    }
}

/// `router` behind the bearer-token middleware for `api`.
fn guarded(router: Router, auth: &Auth, api: Api) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        (auth.clone(), api),
        auth::authenticate,
    ))
}
