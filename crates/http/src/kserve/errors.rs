//! KServe v2's error shape on its own paths: `{"error": "<message>"}`, which tritonclient
//! and KServe's SDK decode, with the status and headers (`Retry-After`,
//! `WWW-Authenticate`) the rest of the server uses. Every refusal on the listener, the
//! middleware's and the layers' included, is an [`ApiError`] response that carries itself in
//! its extensions; this layer, outermost on the inference listener, re-renders those whose
//! path is under `/v2`. Other paths keep TorchServe's `{"code","type","message"}`.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::ApiError;

/// `router` with v2 error bodies on `/v2` paths.
pub(crate) fn v2_error_bodies(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(rewrite))
}

fn is_v2(path: &str) -> bool {
    path == "/v2" || path.starts_with("/v2/")
}

async fn rewrite(request: Request, next: Next) -> Response {
    let v2 = is_v2(request.uri().path());
    let mut response = next.run(request).await;
    if !v2 {
        return response;
    }
    let Some(error) = response.extensions_mut().remove::<ApiError>() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = json!({ "error": error.message }).to_string();
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use ferroserve_core::Error;
    use tower::ServiceExt;

    async fn body_of(router: &Router, path: &str) -> (u16, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn v2_paths_get_v2_errors_and_the_rest_keep_torchserves() {
        let missing = || async { ApiError::from(Error::ModelNotFound("m".into())) };
        let router = v2_error_bodies(
            Router::new()
                .route("/v2/models/m", get(missing))
                .route("/models/m", get(missing))
                .route("/v2/health/live", get(|| async { "{\"live\":true}" })),
        );
        let (status, body) = body_of(&router, "/v2/models/m").await;
        let v2: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 404);
        assert_eq!(
            v2,
            json!({"error": Error::ModelNotFound("m".into()).to_string()})
        );
        let (_, body) = body_of(&router, "/models/m").await;
        assert!(
            body.contains("\"type\":\"ModelNotFoundException\""),
            "{body}"
        );
        assert_eq!(
            body_of(&router, "/v2/health/live").await.1,
            "{\"live\":true}"
        );
        // `/v2x` is not a v2 path.
        assert!(!is_v2("/v2x/models"));
    }
}
