//! `OPTIONS /`: the OpenAPI 3.0 description of a listener, as TorchServe serves its own.
//! [`inference_description`] and [`management_description`] each route only `OPTIONS /`;
//! the caller merges them into the listener's router. The documents are built here with
//! `json!` (not read from files) so shared pieces are written once; `tests/openapi.rs`
//! checks that every route the inference router serves is described.

use std::sync::LazyLock;

use axum::routing::{any, options};
use axum::{Json, Router};
use serde_json::{Value, json};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `OPTIONS /`, and TorchServe's `/api-description` (any method).
pub fn inference_description() -> Router {
    static DOC: LazyLock<Value> = LazyLock::new(inference_document);
    Router::new()
        .route("/", options(|| async { Json(&*DOC) }))
        .route("/api-description", any(|| async { Json(&*DOC) }))
}

pub fn management_description() -> Router {
    static DOC: LazyLock<Value> = LazyLock::new(management_document);
    Router::new()
        .route("/", options(|| async { Json(&*DOC) }))
        .route("/api-description", any(|| async { Json(&*DOC) }))
}

/// `OPTIONS /predictions/{m}`: TorchServe's per-model document (its paths are the ones a
/// client can call this model on).
pub fn model_document(name: &str) -> Value {
    let predict = || {
        json!({ "post": op(
            &format!("A predict entry point for model: {name}."),
            vec![],
            "The handler's response, in its content type.",
        ) })
    };
    let mut paths = serde_json::Map::new();
    for path in [
        format!("/predictions/{name}"),
        format!("/v1/models/{name}:predict"),
        format!("/v2/models/{name}/infer"),
    ] {
        paths.insert(path, predict());
    }
    document(&format!("RESTful API for: {name}"), Value::Object(paths))
}

fn inference_document() -> Value {
    let model = || path_param("model_name", "A registered model's name.");
    let version = || path_param("model_version", "One of the model's versions.");
    let predict = |params: Vec<Value>| {
        let mut op = op(
            "Run the model's handler and model on one input.",
            params,
            "The handler's response, in its content type.",
        );
        op["requestBody"] = json!({
            "description": "The raw input, or a multipart form whose `data` (or `body`) field holds it.",
            "content": {
                "*/*": { "schema": { "type": "string", "format": "binary" } },
                "multipart/form-data": { "schema": { "type": "object", "properties": {
                    "data": { "type": "string", "format": "binary" } } } }
            }
        });
        op["responses"]["200"]["content"] = json!({ "*/*": {} });
        json!({ "post": op })
    };
    let infer = |params: Vec<Value>| {
        let mut op = op(
            "KServe v2 inference: tensors straight to the model, dim 0 the batch.",
            params,
            "The output tensors.",
        );
        op["requestBody"] = json!({ "required": true, "content": { "application/json": {
            "schema": { "$ref": "#/components/schemas/InferenceRequest" } } } });
        op["responses"]["200"]["content"]["application/json"]["schema"] =
            json!({ "$ref": "#/components/schemas/InferenceResponse" });
        json!({ "post": op })
    };
    let get =
        |summary: &str, params: Vec<Value>, ok: &str| json!({ "get": op(summary, params, ok) });
    let explain = |params: Vec<Value>| json!({ "post": op("Explanations: 501, handlers have no explain entry point.", params, "Never: 501.") });
    // TorchServe answers OPTIONS on a prediction path with the model's own document.
    let with_options = |mut item: Value, params: Vec<Value>| {
        item["options"] = op(
            "The model's API (TorchServe's per-model document).",
            params,
            "OpenAPI 3.0 description of this model's routes.",
        );
        item
    };
    let mut doc = document(
        "ferroserve inference API",
        json!({
            "/": describe_self(),
            "/ping": get("Health: 200 when every model has its minimum of workers, else 500.", vec![], "{\"status\": \"Healthy\"}"),
            "/api-description": get("This document (TorchServe's name for it; any method).", vec![], "OpenAPI 3.0 description of this listener."),
            "/predictions/{model_name}": with_options(predict(vec![model()]), vec![model()]),
            "/predictions/{model_name}/{model_version}": with_options(predict(vec![model(), version()]), vec![model(), version()]),
            "/explanations/{model_name}": explain(vec![model()]),
            "/explanations/{model_name}/{model_version}": explain(vec![model(), version()]),
            "/v1/models": get("KServe v1: the models' names.", vec![], "{\"models\": [...]}"),
            "/v1/models/{model_name}": get("KServe v1 readiness; 503 when not ready.", vec![model()], "{\"name\", \"ready\"}"),
            "/v1/models/{model_name}:predict": { "post": op("KServe v1: {\"instances\": [...]}, each instance one request through the handler.", vec![model()], "{\"predictions\": [...]}") },
            "/v1/models/{model_name}:explain": explain(vec![model()]),
            "/v2": get("KServe v2 server metadata.", vec![], "{\"name\", \"version\", \"extensions\"}"),
            "/v2/health/live": get("KServe v2 liveness.", vec![], "{\"live\": true}"),
            "/v2/health/ready": get("KServe v2 readiness: 503 with {\"ready\": false} when a model lacks workers.", vec![], "{\"ready\": true}"),
            "/v2/models/{model_name}": get("KServe v2 model metadata (default version).", vec![model()], "{\"name\", \"versions\", \"platform\", \"inputs\", \"outputs\"}"),
            "/v2/models/{model_name}/versions/{model_version}": get("KServe v2 model metadata.", vec![model(), version()], "{\"name\", \"versions\", \"platform\", \"inputs\", \"outputs\"}"),
            "/v2/models/{model_name}/ready": get("KServe v2 model readiness (default version); 503 when not ready.", vec![model()], "{\"name\", \"ready\"}"),
            "/v2/models/{model_name}/versions/{model_version}/ready": get("KServe v2 model readiness; 503 when not ready.", vec![model(), version()], "{\"name\", \"ready\"}"),
            "/v2/models/{model_name}/infer": infer(vec![model()]),
            "/v2/models/{model_name}/versions/{model_version}/infer": infer(vec![model(), version()]),
        }),
    );
    let tensor = json!({ "type": "object", "required": ["name", "shape", "datatype", "data"], "properties": {
        "name": { "type": "string" },
        "shape": { "type": "array", "items": { "type": "integer", "minimum": 1 } },
        "datatype": { "type": "string", "enum": ["FP32", "FP64", "FP16", "BF16", "INT64", "INT32", "INT8", "UINT8", "BOOL"] },
        "data": { "type": "array", "description": "product(shape) values, flat or nested row-major." }
    }});
    doc["components"]["schemas"]["InferenceRequest"] = json!({ "type": "object", "required": ["inputs"], "properties": {
        "id": { "type": "string" },
        "parameters": { "type": "object", "description": "Accepted and ignored." },
        "inputs": { "type": "array", "items": tensor },
        "outputs": { "type": "array", "items": { "type": "object", "properties": { "name": { "type": "string" } } } }
    }});
    doc["components"]["schemas"]["InferenceResponse"] = json!({ "type": "object", "properties": {
        "model_name": { "type": "string" },
        "model_version": { "type": "string" },
        "id": { "type": "string" },
        "outputs": { "type": "array", "items": tensor }
    }});
    doc
}

fn management_document() -> Value {
    let model = || path_param("model_name", "A registered model's name.");
    let version = || path_param("model_version", "One of the model's versions.");
    let q = |name: &str, kind: &str, description: &str| json!({ "name": name, "in": "query", "required": false, "schema": { "type": kind }, "description": description });
    let scale = || {
        vec![
            q(
                "min_worker",
                "integer",
                "Fewest worker threads kept (default 1; 0 allowed).",
            ),
            q(
                "max_worker",
                "integer",
                "Most worker threads (default min_worker).",
            ),
            q(
                "synchronous",
                "boolean",
                "true: 200 with the new count; else 202 (TorchServe's default).",
            ),
        ]
    };
    let mut register = op(
        "Register a model from an archive in the model store, an allowed URL, or the request body.",
        vec![
            q(
                "url",
                "string",
                "Archive file name in the model store, or an allowed URL; omit it to send the archive as the body.",
            ),
            q(
                "model_name",
                "string",
                "Name to register under (default: the archive's).",
            ),
            q("batch_size", "integer", "Most requests in one batch."),
            q(
                "max_batch_delay",
                "integer",
                "Milliseconds a partial batch waits.",
            ),
            q("initial_workers", "integer", "Worker threads to start."),
            q(
                "synchronous",
                "boolean",
                "Default true; false answers 202. The model is registered before either answer.",
            ),
            q(
                "response_timeout",
                "integer",
                "Seconds a request may wait for and spend in the model.",
            ),
        ],
        "The model is registered.",
    );
    register["requestBody"] = json!({ "required": false, "content": {
        "application/octet-stream": { "schema": { "type": "string", "format": "binary" } },
        "application/zip": { "schema": { "type": "string", "format": "binary" } },
        "application/json": { "schema": { "type": "object", "description": "The query's parameters as a JSON object (TorchServe's RegisterModelRequest)." } }
    }});
    let pages = vec![
        q(
            "limit",
            "integer",
            "Models per page: 0 to 100, default (and anything else) 100.",
        ),
        q(
            "next_page_token",
            "string",
            "Where the previous page ended.",
        ),
    ];
    let versioned = |with_version: bool| {
        let params = || {
            if with_version {
                vec![model(), version()]
            } else {
                vec![model()]
            }
        };
        let mut put_params = params();
        put_params.extend(scale());
        json!({
            "get": op("Describe the model version (default: the default version).", params(), "Describe objects, as TorchServe's."),
            "put": op("Scale the version's workers.", put_params, "Workers scaled."),
            "delete": op("Unregister the version; the default goes only when it is the last.", params(), "Unregistered."),
        })
    };
    document(
        "ferroserve management API",
        json!({
            "/": describe_self(),
            "/api-description": { "get": op("This document (TorchServe's name for it; any method).", vec![], "OpenAPI 3.0 description of this listener.") },
            "/models": {
                "get": op("List registered models, a page at a time.", pages, "{\"models\": [...], \"nextPageToken\"?}"),
                "post": register,
            },
            "/models/{model_name}": versioned(false),
            "/models/{model_name}/all": { "get": op("Describe every version of the model.", vec![model()], "Describe objects.") },
            "/models/{model_name}/{model_version}": versioned(true),
            "/models/{model_name}/{model_version}/set-default": {
                "put": op("Make this version the model's default.", vec![model(), version()], "Default set.")
            },
        }),
    )
}

/// The document's frame: version, title, paths, and the one error shape every route uses.
fn document(title: &str, paths: Value) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": { "title": title, "version": VERSION },
        "paths": paths,
        "components": {
            "schemas": { "Error": {
                "type": "object",
                "required": ["code", "type", "message"],
                "properties": {
                    "code": { "type": "integer", "description": "The HTTP status, repeated." },
                    "type": { "type": "string", "description": "A stable identifier of what went wrong." },
                    "message": { "type": "string", "description": "What happened and what to do about it." }
                }
            }},
            "responses": { "Error": {
                "description": "Any error, e.g. 400 bad input, 404 unknown model, 413 body too large, 503 overloaded (with Retry-After), 504 timed out.",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            }}
        }
    })
}

fn op(summary: &str, parameters: Vec<Value>, ok: &str) -> Value {
    json!({
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": { "description": ok, "content": { "application/json": {} } },
            "default": { "$ref": "#/components/responses/Error" }
        }
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" }, "description": description })
}

fn describe_self() -> Value {
    json!({ "options": op("This document.", vec![], "OpenAPI 3.0 description of this listener.") })
}
