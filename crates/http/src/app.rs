//! [`App`]: the whole REST server in process. [`App::build`] assembles the core and the
//! three listeners' routers (inference, management, metrics), each with auth and the tower
//! stack, binding nothing, so tests drive them with `oneshot`. [`App::serve`] binds the
//! listeners, starts the core (snapshot, start-up models) before they answer, and shuts
//! down gracefully; [`App::bind`] and [`Listening::serve`] are its two halves, for a
//! binary that serves another edge (gRPC) over the same core and starts it once. APIs configured on one address share its listener, routed by path (as
//! TorchServe serves KServe's `inference_address` = `management_address`); a served
//! listener ignores a trailing slash, as TorchServe does.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use ferroserve_core::observe::Outcome;
use ferroserve_core::tenancy::{Api, Auth};
use ferroserve_core::{Core, Metrics, ModelRuntime, ServerConfig};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::fetch::HyperFetcher;
use crate::{
    HttpLimits, ServeError, auth, inference, kserve, kserve_v1, layers, management, openapi,
    tenants,
};

/// The REST server: its core and one router per listener, every layer applied.
#[derive(Clone)]
pub struct App {
    pub core: Core,
    pub inference: Router,
    pub management: Router,
    pub metrics: Router,
}

/// The addresses actually bound (port 0 resolved); no metrics listener with
/// `metrics_api = false`.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub inference: SocketAddr,
    pub management: SocketAddr,
    pub metrics: Option<SocketAddr>,
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
            .merge(kserve::repository::router(
                core.manager.clone(),
                core.auth.clone(),
                config.model_api,
            ))
            .merge(kserve_v1::router(registry.clone()))
            .merge(openapi::inference_description());
        let management = management::router(core.manager.clone(), config.model_api)
            .merge(tenants::router(core.manager.clone()))
            .merge(openapi::management_description());
        let metrics = crate::metrics::router(core.manager.metrics(), registry);
        let limits = HttpLimits::of(config);
        // Only TorchServe's host-level counters need every response's class.
        let torchserve_series = config.metrics_names == "torchserve";
        let counted = |router: Router| {
            if torchserve_series {
                counted(router, core.manager.metrics())
            } else {
                router
            }
        };
        App {
            inference: kserve::v2_error_bodies(counted(layers::apply(
                guard(inference, Api::Inference),
                "inference",
                &limits,
            ))),
            management: counted(layers::apply(
                guard(management, Api::Management),
                "management",
                &HttpLimits::for_uploads(config),
            )),
            metrics: counted(layers::apply(
                guard(metrics, Api::Metrics),
                "metrics",
                &limits,
            )),
            core,
        }
    }

    /// Binds, starts the core, serves until `shutdown` completes, then stops accepting,
    /// lets in-flight requests finish and drains every model's queue. `on_ready` is called
    /// once the models are loaded and the listeners answer. A binary serving other edges
    /// over the same core uses [`App::bind`] and [`Listening::serve`] instead.
    pub async fn serve(
        self,
        on_ready: impl FnOnce(Bound),
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let core = self.core.clone();
        let listening = self.bind().await?;
        core.start().await?;
        let bound = listening.bound;
        let served = listening.serve(shutdown);
        on_ready(bound);
        served.await?;
        tracing::info!("listeners closed; draining model queues");
        core.shutdown().await;
        Ok(())
    }

    /// Binds the listeners (APIs on one address share it); neither starts the core nor
    /// answers yet.
    pub async fn bind(self) -> Result<Listening, ServeError> {
        let config = self.core.config.clone();
        let listen = |api, addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { api, addr, source })
        };
        let mut apis = vec![
            ("inference", config.inference_address, self.inference),
            ("management", config.management_address, self.management),
        ];
        if config.metrics_api {
            apis.push(("metrics", config.metrics_address, self.metrics));
        }
        // One listener per distinct address (port 0 always gets its own).
        let mut listeners: Vec<Listener> = Vec::new();
        for (api, addr, router) in apis {
            match listeners
                .iter_mut()
                .find(|(a, _, _)| *a == addr && addr.port() != 0)
            {
                Some((_, _, routers)) => routers.push((api, router)),
                None => listeners.push((addr, listen(api, addr).await?, vec![(api, router)])),
            }
        }
        let bound_of = |api: &str| -> Result<Option<SocketAddr>, ServeError> {
            listeners
                .iter()
                .find(|(_, _, routers)| routers.iter().any(|(a, _)| *a == api))
                .map(|(_, l, _)| l.local_addr().map_err(ServeError::Serve))
                .transpose()
        };
        let bound = Bound {
            inference: bound_of("inference")?.expect("always bound"),
            management: bound_of("management")?.expect("always bound"),
            metrics: bound_of("metrics")?,
        };
        Ok(Listening {
            bound,
            listeners,
            limits: crate::listen::ConnLimits::of(&config),
        })
    }
}

/// The REST listeners, bound and not yet serving.
pub struct Listening {
    pub bound: Bound,
    listeners: Vec<Listener>,
    limits: crate::listen::ConnLimits,
}

impl Listening {
    /// Serves until `shutdown` completes, then stops accepting and lets in-flight
    /// requests finish. Draining the core is the caller's.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let limits = self.limits;
        let run = |listener: TcpListener, app: Router| {
            let stop = stop_rx.clone();
            tokio::spawn(crate::listen::serve(listener, app, limits, stop))
        };
        let servers: Vec<_> = self
            .listeners
            .into_iter()
            .map(|(_, listener, routers)| run(listener, shared(routers)))
            .collect();
        for server in servers {
            match server.await {
                Ok(result) => result.map_err(ServeError::Serve)?,
                Err(e) => return Err(ServeError::Serve(std::io::Error::other(e))),
            }
        }
        Ok(())
    }
}

/// A bound address and the APIs it serves.
type Listener = (SocketAddr, TcpListener, Vec<(&'static str, Router)>);

/// `router` behind the bearer-token middleware for `api`.
fn guarded(router: Router, auth: &Auth, api: Api) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        (auth.clone(), api),
        auth::authenticate,
    ))
}

/// Every response counted by class (TorchServe's host-level `Requests2XX/4XX/5XX`).
fn counted(router: Router, metrics: Metrics) -> Router {
    router.layer(axum::middleware::map_response_with_state(
        metrics,
        |State(metrics): State<Metrics>, response: Response| async move {
            let status = response.status();
            metrics.count_response(if status.is_success() {
                Outcome::Ok
            } else if status.is_client_error() {
                Outcome::ClientError
            } else {
                Outcome::ServerError
            });
            response
        },
    ))
}

/// Which API on a shared listener a path belongs to: TorchServe's management paths, the
/// tenant API and `/metrics` by their prefixes, everything else inference.
fn api_of(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "models" | "tenants" => "management",
        "metrics" => "metrics",
        _ => "inference",
    }
}

/// One router for the APIs sharing a listener; a path for an API not on it goes to the
/// first (whose fallback answers 404).
fn shared(mut routers: Vec<(&'static str, Router)>) -> Router {
    if routers.len() == 1 {
        return routers.remove(0).1;
    }
    let dispatch = tower::service_fn(move |request: axum::extract::Request| {
        let api = api_of(request.uri().path());
        let router = routers
            .iter()
            .find(|(a, _)| *a == api)
            .unwrap_or(&routers[0])
            .1
            .clone();
        router.oneshot(request)
    });
    Router::new().fallback_service(dispatch)
}
