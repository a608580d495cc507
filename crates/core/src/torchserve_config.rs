//! TorchServe's `config.properties`, read as is (`ferroserve serve --ts-config FILE`): Java
//! properties syntax, then each key TorchServe documents translated into ferroserve's keys
//! (a TOML table the binary layers under the file, the environment and flags). Keys with no
//! meaning here are reported, never fatal; a value ferroserve cannot honour without
//! changing its meaning (an `https://` listener, an `allowed_urls` regex that is not a set of
//! prefixes) stops the start with a message saying what to write instead. The same table is
//! in docs/torchserve.md.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::StartupModel;

/// What a `config.properties` means here.
#[derive(Debug, Default)]
pub struct Translation {
    /// ferroserve keys, as a config file would hold them.
    pub table: toml::Table,
    /// One line per TorchServe key: what became of it (for the start-up log).
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub key: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Became these ferroserve keys.
    Mapped(Vec<&'static str>),
    /// A TorchServe key that means nothing here; why.
    Ignored(&'static str),
    /// Not a key TorchServe documents (TorchServe ignores these too).
    Unknown,
}

/// Reads the file's text with Java's `Properties.load` rules (`=`, `:` or a space between
/// key and value, `#`/`!` comments, `\` continuations and escapes).
pub fn parse_properties(text: &str) -> Result<BTreeMap<String, String>, String> {
    let map = java_properties::read(text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(map.into_iter().collect())
}

/// Translates parsed properties. `env` is the process environment: with
/// `enable_envvars_config=true`, TorchServe's `TS_<KEY>` variables override the file.
pub fn translate(
    mut props: BTreeMap<String, String>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Translation, String> {
    let env: BTreeMap<String, String> = env.into_iter().collect();
    for (key, value) in props.iter_mut() {
        *value = substitute(value, &env).map_err(|e| format!("{key}={value}: {e}"))?;
    }
    if props.get("enable_envvars_config").map(|v| v.trim()) == Some("true") {
        // TorchServe reads TS_ALLOWED_URLS only when the file says so.
        let env_urls = props.get("use_env_allowed_urls").map(|v| v.trim()) == Some("true");
        for (name, value) in &env {
            let Some(key) = name.strip_prefix("TS_") else {
                continue;
            };
            let key = match key {
                // The variables whose names are not TS_ + the key.
                "TOKEN_EXPIRATION_TIME_MIN" => "token_expiration_min".to_owned(),
                "ALLOWED_URLS" if !env_urls => continue,
                // TS_CONFIG_FILE names the file itself.
                "CONFIG_FILE" => continue,
                other => other.to_ascii_lowercase(),
            };
            props.insert(key, value.clone());
        }
    }
    let mut t = Translation::default();
    // model_snapshot wins over load_models, as in TorchServe (it restores the snapshot
    // instead of loading the start-up list).
    if props.contains_key("model_snapshot") && props.remove("load_models").is_some() {
        t.notes.push(Note {
            key: "load_models".into(),
            outcome: Outcome::Ignored("model_snapshot is given and takes its place"),
        });
    }
    for (key, value) in &props {
        let value = value.trim();
        let outcome = match rule(key) {
            Some(Rule::Map(map)) => Outcome::Mapped(
                map(value, &mut t.table).map_err(|e| format!("{key}={value}: {e}"))?,
            ),
            Some(Rule::Ignore(why)) => Outcome::Ignored(why),
            None => Outcome::Unknown,
        };
        t.notes.push(Note {
            key: key.clone(),
            outcome,
        });
    }
    torchserve_defaults(&props, &mut t.table);
    Ok(t)
}

/// Where TorchServe's defaults differ from ferroserve's, a TorchServe config gets
/// TorchServe's: token authorization on (fresh keys in `./key_file.json`), registration and
/// unregistration through the management API off, TorchServe's metric names.
fn torchserve_defaults(props: &BTreeMap<String, String>, t: &mut toml::Table) {
    let flag = |key: &str| {
        props
            .get(key)
            .is_some_and(|v| boolean(v.trim()) == Ok(true))
    };
    if !flag("disable_token_authorization") {
        t.insert("key_file".into(), "key_file.json".into());
        t.insert("create_key_file".into(), true.into());
    }
    t.entry("model_api").or_insert(false.into());
    t.insert("metrics_names".into(), "torchserve".into());
}

/// TorchServe replaces `$$NAME$$` in any value with the environment variable NAME, and
/// refuses to start when it is unset.
fn substitute(value: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("$$") {
        let Some(len) = rest[start + 2..].find("$$") else {
            break;
        };
        let name = &rest[start + 2..start + 2 + len];
        let found = env.get(name).ok_or_else(|| {
            format!("the environment variable {name} (named as $${name}$$) is not set")
        })?;
        out.push_str(&rest[..start]);
        out.push_str(found);
        rest = &rest[start + 4 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

type Map = fn(&str, &mut toml::Table) -> Result<Vec<&'static str>, String>;

enum Rule {
    Map(Map),
    Ignore(&'static str),
}

fn rule(key: &str) -> Option<Rule> {
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
        "grpc_inference_port"
        | "grpc_management_port"
        | "grpc_inference_address"
        | "grpc_management_address"
        | "enable_grpc_ssl"
        | "grpc_inference_max_connection_age_ms"
        | "grpc_management_max_connection_age_ms"
        | "grpc_inference_max_connection_age_grace_ms"
        | "grpc_management_max_connection_age_grace_ms" => {
            Ignore("gRPC is not served by this version; use the REST listeners")
        }
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

fn set(
    t: &mut toml::Table,
    key: &'static str,
    value: toml::Value,
) -> Result<Vec<&'static str>, String> {
    t.insert(key.into(), value);
    Ok(vec![key])
}

fn integer(v: &str) -> Result<toml::Value, String> {
    v.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .map(toml::Value::Integer)
        .ok_or_else(|| "expected a whole number".into())
}

fn boolean(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// `http://HOST:PORT` (TorchServe's form) or `HOST:PORT`. An `https://` listener is refused:
/// serving it as plain HTTP would drop the TLS the operator asked for.
fn address(v: &str, t: &mut toml::Table, key: &'static str) -> Result<Vec<&'static str>, String> {
    let rest = if let Some(rest) = v.strip_prefix("http://") {
        rest
    } else if v.starts_with("https://") {
        return Err(
            "ferroserve does not terminate TLS; use http:// behind a TLS proxy or a service mesh"
                .into(),
        );
    } else if v.starts_with("unix:") {
        return Err("Unix-socket listeners are not supported; use http://HOST:PORT".into());
    } else {
        v
    };
    let rest = rest.trim_end_matches('/');
    // TorchServe's ports when the address names none.
    let default_port = match key {
        "inference_address" => 80,
        "management_address" => 8081,
        _ => 8082,
    };
    let with_port;
    let rest = if rest.contains(':') {
        rest
    } else {
        with_port = format!("{rest}:{default_port}");
        &with_port
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(rest)
        .map_err(|e| format!("not HOST:PORT ({e})"))?
        .next()
        .ok_or("the host resolves to no address")?;
    set(t, key, addr.to_string().into())
}

/// `all`, or a comma-separated list of `FILE.mar` and `NAME=FILE.mar`.
fn load_models(v: &str, t: &mut toml::Table) -> Result<Vec<&'static str>, String> {
    let list: Vec<toml::Value> = if v.eq_ignore_ascii_case("all") {
        vec!["all".into()]
    } else if v.eq_ignore_ascii_case("standalone") || v.is_empty() {
        vec![]
    } else {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Into::into)
            .collect()
    };
    set(t, "models", toml::Value::Array(list))
}

/// One version's entry in TorchServe's `model_snapshot` (and `models`) JSON.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TsModel {
    mar_name: Option<String>,
    #[serde(default)]
    default_version: bool,
    min_workers: Option<usize>,
    max_workers: Option<usize>,
    batch_size: Option<usize>,
    max_batch_delay: Option<u64>,
    response_timeout: Option<u64>,
}

/// `model_snapshot` is `{"models": {NAME: {VERSION: {...}}}, ...}`; `models` is the inner
/// `{NAME: {VERSION: {...}}}`.
fn startup_models(v: &str, t: &mut toml::Table, key: &str) -> Result<Vec<&'static str>, String> {
    type Versions = BTreeMap<String, BTreeMap<String, TsModel>>;
    let models: Versions = if key == "model_snapshot" {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Snapshot {
            #[serde(default)]
            models: Versions,
            /// TorchServe loads nothing when it is 0 or less.
            model_count: Option<i64>,
        }
        serde_json::from_str::<Snapshot>(v).map(|s| match s.model_count {
            Some(n) if n <= 0 => Versions::new(),
            _ => s.models,
        })
    } else {
        serde_json::from_str(v)
    }
    .map_err(|e| format!("not TorchServe's model JSON ({e})"))?;
    let mut list = match t.remove("startup_models") {
        Some(toml::Value::Array(a)) => a,
        _ => Vec::new(),
    };
    for (name, versions) in models {
        for (version, m) in versions {
            let archive = m.mar_name.unwrap_or_else(|| format!("{name}.mar"));
            let startup = StartupModel {
                name: name.clone(),
                archive,
                batch_size: m.batch_size,
                max_batch_delay_ms: m.max_batch_delay,
                min_workers: m.min_workers,
                max_workers: m.max_workers,
                response_timeout_s: m.response_timeout,
                default_version: m.default_version,
            };
            let _ = version; // The archive's manifest carries the version it is served as.
            list.push(toml::Value::try_from(startup).map_err(|e| e.to_string())?);
        }
    }
    t.insert("startup_models".into(), toml::Value::Array(list));
    Ok(vec!["startup_models"])
}

/// TorchServe's `allowed_urls` are Java regexes, comma-separated; ferroserve's are URL
/// prefixes. A regex of the form `PREFIX.*` (with `\.` escapes, `(s)?`/`s?` after `http`,
/// and `|` alternatives) is exactly a set of prefixes; `file://` ones mean the model store
/// here and are dropped. Anything else is refused rather than guessed at.
fn allowed_urls(v: &str, t: &mut toml::Table) -> Result<Vec<&'static str>, String> {
    let mut prefixes = Vec::new();
    for alternative in v.split([',', '|']).map(str::trim).filter(|s| !s.is_empty()) {
        for expanded in expand_optional_s(alternative) {
            if expanded.starts_with("file://") {
                continue;
            }
            let prefix = regex_prefix(&expanded).ok_or_else(|| {
                format!(
                    "{alternative:?} is not a URL prefix followed by .* ; ferroserve allows \
                     URL prefixes only: write e.g. https://models.example.com/.*"
                )
            })?;
            prefixes.push(toml::Value::String(prefix));
        }
    }
    set(t, "allowed_urls", toml::Value::Array(prefixes))
}

fn expand_optional_s(regex: &str) -> Vec<String> {
    for optional in ["http(s)?", "https?", "http[s]?"] {
        if let Some(rest) = regex.strip_prefix(optional) {
            return vec![format!("http{rest}"), format!("https{rest}")];
        }
    }
    vec![regex.to_owned()]
}

/// `PREFIX.*` with only literal characters (or `\`-escaped ones) in PREFIX. An unescaped
/// `.` is read as a literal dot: the prefix then allows less than the regex did, never more.
fn regex_prefix(regex: &str) -> Option<String> {
    let body = regex.strip_suffix(".*")?;
    let body = body.strip_prefix('^').unwrap_or(body);
    let mut prefix = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => prefix.push(chars.next()?),
            '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' => {
                return None;
            }
            c => prefix.push(c),
        }
    }
    prefix.contains("://").then_some(prefix)
}

#[cfg(test)]
#[path = "torchserve_config_tests.rs"]
mod tests;
