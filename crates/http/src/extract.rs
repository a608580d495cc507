//! [`Path`]: axum's path extractor with the server's errors. axum's own answers a segment
//! that does not decode (`%de` + `l` is not UTF-8) with a plain-text 400, in neither
//! protocol's shape; this one refuses it as a 400 `BadRequestException` (v2's `{"error"}`
//! under `/v2`, by the usual rewrite). Found by fuzzing (docs/fuzzing.md).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{ApiError, Edge};

/// The route's path parameters, as `axum::extract::Path` reads them.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(Edge::BadPath(rejection.body_text()).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, header};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::Path;

    #[tokio::test]
    async fn an_undecodable_segment_is_a_json_400_naming_it() {
        let router =
            Router::new().route("/models/{model}", get(|Path(m): Path<String>| async { m }));
        let answer = |uri: &'static str| {
            let router = router.clone();
            async move {
                let request = Request::get(uri).body(Body::empty()).unwrap();
                let response = router.oneshot(request).await.unwrap();
                let status = response.status().as_u16();
                let json = response.headers()[header::CONTENT_TYPE] == "application/json";
                let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                    .await
                    .unwrap();
                (status, json, String::from_utf8_lossy(&body).into_owned())
            }
        };
        let (status, json, body) = answer("/models/echo%del").await;
        assert_eq!((status, json), (400, true), "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["type"], "BadRequestException");
        assert!(
            body["message"].as_str().unwrap().contains("`model`"),
            "{body}"
        );
        assert_eq!(answer("/models/echo%20x").await.2, "echo x");
    }
}
