//! The table: what each TorchServe key becomes (the value parsers are in `values.rs`), or
//! why it means nothing here. docs/torchserve.md has the same table for operators.

use super::values::{
    address, allowed_urls, boolean, grpc_host, grpc_port, integer, load_models, set, startup_models,
};

pub(super) type Map = fn(&str, &mut toml::Table) -> Result<Vec<&'static str>, String>;

pub(super) enum Rule {
    Map(Map),
    Ignore(&'static str),
}

pub(super) fn rule(key: &str) -> Option<Rule> {
    use Rule::{Ignore, Map};
    Some(match key {
        "inference_address" => Map(|v, t| address(v, t, "inference_address")),
        "management_address" => Map(|v, t| address(v, t, "management_address")),
        "metrics_address" => Map(|v, t| address(v, t, "metrics_address")),
        "model_store" => Map(|v, t| set(t, "model_store", v.into())),
        "load_models" => Map(load_models),
        "model_snapshot" => Map(|v, t| startup_models(v, t, "model_snapshot")),
        "models" => Map(|v, t| startup_models(v, t, "models")),
        "default_workers_per_model" => Map(|v, t| {
            let n = integer(v)?;
            t.insert("min_workers".into(), n.clone());
            t.insert("max_workers".into(), n);
            Ok(vec!["min_workers", "max_workers"])
        }),
        "job_queue_size" => Map(|v, t| set(t, "job_queue_size", integer(v)?)),
        "default_response_timeout" => Map(|v, t| set(t, "response_timeout_s", integer(v)?)),
        "max_request_size" => Map(|v, t| set(t, "max_request_size", integer(v)?)),
        "allowed_urls" => Map(allowed_urls),
        "number_of_gpu" => Map(|v, t| {
            let device = if integer(v)?.as_integer() == Some(0) {
                "cpu"
            } else {
                "cuda"
            };
            set(t, "device", device.into())
        }),
        // Applied after the loop, with TorchServe's defaults (see `torchserve_defaults`).
        "disable_token_authorization" => Map(|v, _| {
            boolean(v)?;
            Ok(vec!["key_file", "create_key_file"])
        }),
        "enable_model_api" => Map(|v, t| set(t, "model_api", boolean(v)?.into())),
        "enable_metrics_api" => Map(|v, t| set(t, "metrics_api", boolean(v)?.into())),
        "metrics_mode" => Map(|v, t| match v {
            "prometheus" | "log" | "legacy" => set(t, "metrics_names", "torchserve".into()),
            other => Err(format!("unknown metrics_mode {other:?}: use prometheus")),
        }),
        "metrics_format" => Ignore("read by nothing in TorchServe either; metrics_mode decides"),
        "enable_envvars_config" => Ignore("read: TS_<KEY> variables override this file"),
        // TorchServe gives gRPC listeners a host and a port in separate keys; each sets
        // its half of ferroserve's address (defaults 127.0.0.1, 7070 / 7071).
        "grpc_inference_address" => Map(|v, t| grpc_host(v, t, "grpc_inference_address")),
        "grpc_management_address" => Map(|v, t| grpc_host(v, t, "grpc_management_address")),
        "grpc_inference_port" => Map(|v, t| grpc_port(v, t, "grpc_inference_address")),
        "grpc_management_port" => Map(|v, t| grpc_port(v, t, "grpc_management_address")),
        "enable_grpc_ssl" => Map(|v, _| match boolean(v)? {
            false => Ok(vec![]),
            true => Err(
                "ferroserve does not terminate TLS on its gRPC listeners; set \
                         enable_grpc_ssl=false and put a TLS proxy or a service mesh in front"
                    .into(),
            ),
        }),
        "grpc_inference_max_connection_age_ms"
        | "grpc_management_max_connection_age_ms"
        | "grpc_inference_max_connection_age_grace_ms"
        | "grpc_management_max_connection_age_grace_ms" => Ignore(
            "connections are kept until the client or a shutdown closes them; a proxy in front \
             can cap their age",
        ),
        "service_envelope" => Ignore(
            "KServe v1 (/v1/models/M:predict) and v2 (/v2/models/M/infer) are always served on \
             their own routes; /predictions takes the raw body",
        ),
        "max_response_size" => Ignore("responses are bounded by the handler's memory cap"),
        "unregister_model_timeout" => Ignore("unregistering waits for in-flight requests only"),
        "metrics_config" => Ignore("the metric set is fixed (docs/api.md)"),
        "number_of_netty_threads" | "netty_client_threads" => {
            Ignore("no Netty here: tokio sizes its threads to the cores")
        }
        "install_py_dep_per_model"
        | "default_service_handler"
        | "vmargs"
        | "cpu_launcher_enable"
        | "cpu_launcher_args"
        | "use_native_io"
        | "io_ratio"
        | "async_logging"
        | "plugins_path"
        | "workflow_store"
        | "disable_system_metrics"
        | "system_metrics_cmd"
        | "ipex_enable"
        | "enable_envvars_config_path"
        | "model_server_home"
        | "preload_model"
        | "decode_input_request"
        | "initial_worker_port"
        | "initial_distribution_port"
        | "max_workers"
        | "workflow_max_request_size" => Ignore(
            "configures TorchServe's Java frontend or Python workers, which ferroserve has not",
        ),
        "cors_allowed_origin" | "cors_allowed_methods" | "cors_allowed_headers" => {
            Ignore("CORS headers are not sent; put a proxy in front for browsers")
        }
        "keystore" | "keystore_pass" | "keystore_type" | "certificate_file"
        | "private_key_file" => Ignore("TLS is not terminated here; put a proxy in front"),
        "model_control_mode" => Ignore("registration is controlled by enable_model_api"),
        "default_startup_timeout" => {
            Ignore("a model loads as fast as it loads; registration waits for it")
        }
        "use_env_allowed_urls" => Ignore("read: TS_ALLOWED_URLS applies only with it"),
        "ts_open_inference_protocol" => {
            Ignore("KServe v2 (the Open Inference Protocol) is always served")
        }
        "model_metrics_auto_detect" | "metric_time_interval" => {
            Ignore("metrics are read at scrape time; there is no collection interval")
        }
        "blacklist_env_vars" => Ignore("handlers see no environment at all"),
        "limit_max_image_pixels" => {
            Ignore("image decoding is the handler's, inside its memory cap")
        }
        "prefer_direct_buffer"
        | "cpp_log_config"
        | "ipex_gpu_enable"
        | "debug"
        | "python"
        | "version"
        | "tsconfigfile"
        | "tsConfigFile" => Ignore(
            "configures TorchServe's Java frontend or Python workers, which ferroserve has not",
        ),
        "ts_header_key_sequence_id"
        | "ts_header_key_sequence_start"
        | "ts_header_key_sequence_end"
        | "open_inference_protocol" => Ignore("stateful sequence batching is not supported"),
        "token_expiration_min" => Ignore("ferroserve's keys do not expire; rotate the key file"),
        _ => return None,
    })
}
