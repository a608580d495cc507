//! One listener's services, routed by the path's service name (`/package.Service/Method`).
//! tonic's own router is built on axum; this edge keeps to tonic's server and does the
//! one match it needs. A service this listener does not serve answers UNIMPLEMENTED
//! naming the ones it does.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

type Handler =
    Arc<dyn Fn(http::Request<Body>) -> BoxFuture<http::Response<Body>, Infallible> + Send + Sync>;

#[derive(Clone, Default)]
pub struct Routes {
    services: Vec<(&'static str, Handler)>,
}

impl Routes {
    /// Adds a generated server (its `NamedService::NAME` is the path's service name).
    pub fn with<S>(mut self, service: S) -> Routes
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let handler: Handler = Arc::new(move |request| {
            let mut service = service.clone();
            Box::pin(async move { service.call(request).await })
        });
        self.services.push((S::NAME, handler));
        self
    }

    /// The service names served, for messages and tests.
    pub fn names(&self) -> Vec<&'static str> {
        self.services.iter().map(|(n, _)| *n).collect()
    }
}

impl Service<http::Request<Body>> for Routes {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let name = request
            .uri()
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        match self.services.iter().find(|(n, _)| *n == name) {
            Some((_, handler)) => handler(request),
            None => {
                let message = format!(
                    "this listener does not serve {name:?}; it serves {:?}",
                    self.names()
                );
                Box::pin(async move { Ok(tonic::Status::unimplemented(message).into_http()) })
            }
        }
    }
}
