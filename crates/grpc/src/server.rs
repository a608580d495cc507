//! [`Grpc`]: the two gRPC listeners over a [`Core`]. [`Grpc::routes`] builds each
//! listener's services behind the edge stack, binding nothing (tests serve them on a
//! listener of their own); [`Grpc::bind`] binds both; [`Listening::serve`] serves until
//! the shutdown future completes, then lets in-flight calls finish. Each listener's
//! connections are capped and timed (`conn.rs`). Starting the core and
//! draining it are the caller's, so the binary starts it once for both edges.

use std::future::Future;
use std::net::SocketAddr;

use ferroserve_core::Core;
use ferroserve_core::tenancy::Api;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::conn::{self, ConnLimits};

use crate::edge::{Edge, EdgeLimits};
use crate::pb::inference::grpc_inference_service_server::GrpcInferenceServiceServer;
use crate::pb::ts_inference::inference_ap_is_service_server::InferenceApIsServiceServer;
use crate::pb::ts_management::management_ap_is_service_server::ManagementApIsServiceServer;
use crate::{GrpcError, Routes, torchserve, v2};

/// The gRPC edge over a core.
#[derive(Clone)]
pub struct Grpc {
    pub core: Core,
}

/// The addresses actually bound (port 0 resolved).
#[derive(Debug, Clone, Copy)]
pub struct GrpcBound {
    pub inference: SocketAddr,
    pub management: SocketAddr,
}

/// Both listeners bound, not yet serving.
pub struct Listening {
    pub bound: GrpcBound,
    listeners: Vec<(TcpListener, Edge)>,
    limits: ConnLimits,
}

impl Grpc {
    pub fn new(core: Core) -> Grpc {
        Grpc { core }
    }

    /// The inference listener's and the management listener's services, each behind
    /// the edge stack.
    pub fn routes(&self) -> (Edge, Edge) {
        let core = &self.core;
        let config = &core.config;
        let limits = EdgeLimits::of(config);
        let max = limits.max_message_bytes;
        let registry = core.manager.registry().clone();
        let inference = Routes::default()
            .with(
                InferenceApIsServiceServer::new(torchserve::Inference::new(registry.clone()))
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(usize::MAX),
            )
            .with(
                GrpcInferenceServiceServer::new(v2::Service::new(core))
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(usize::MAX),
            );
        let management = Routes::default().with(
            ManagementApIsServiceServer::new(torchserve::Management::new(core))
                .max_decoding_message_size(max)
                .max_encoding_message_size(usize::MAX),
        );
        // Only TorchServe's host-level counters need every response's class.
        let counted = (config.metrics_names == "torchserve").then(|| core.manager.metrics());
        let edge = |routes, api, listener_api| {
            Edge::new(
                routes,
                api,
                listener_api,
                core.auth.clone(),
                limits.clone(),
                counted.clone(),
            )
        };
        (
            edge(inference, "inference", Api::Inference),
            edge(management, "management", Api::Management),
        )
    }

    /// Binds both listeners at the configured addresses.
    pub async fn bind(&self) -> Result<Listening, GrpcError> {
        let config = &self.core.config;
        let (inference, management) = self.routes();
        let listen = |api, addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| GrpcError::Bind { api, addr, source })
        };
        let i = listen("inference", config.grpc_inference_address).await?;
        let m = listen("management", config.grpc_management_address).await?;
        let local = |l: &TcpListener| l.local_addr().map_err(|e| GrpcError::Serve(e.to_string()));
        Ok(Listening {
            bound: GrpcBound {
                inference: local(&i)?,
                management: local(&m)?,
            },
            listeners: vec![(i, inference), (m, management)],
            limits: ConnLimits {
                max_connections: config.max_connections,
                first_byte_timeout: Duration::from_secs(config.header_read_timeout_s),
            },
        })
    }
}

impl Listening {
    /// Serves both listeners until `shutdown` completes; then each stops accepting and
    /// waits for its calls in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GrpcError> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let limits = self.limits;
        let servers: Vec<_> = self
            .listeners
            .into_iter()
            .map(|(listener, edge)| {
                let mut stop = stop_rx.clone();
                let idle = limits.first_byte_timeout;
                tokio::spawn(async move {
                    tonic::transport::Server::builder()
                        // A peer that stops answering pings is gone: its slot comes back.
                        .http2_keepalive_interval(Some(idle))
                        .http2_keepalive_timeout(Some(idle))
                        .serve_with_incoming_shutdown(
                            edge,
                            conn::incoming(listener, limits),
                            async move {
                                let _ = stop.wait_for(|s| *s).await;
                            },
                        )
                        .await
                })
            })
            .collect();
        for server in servers {
            match server.await {
                Ok(result) => result.map_err(|e| GrpcError::Serve(e.to_string()))?,
                Err(e) => return Err(GrpcError::Serve(e.to_string())),
            }
        }
        Ok(())
    }
}
