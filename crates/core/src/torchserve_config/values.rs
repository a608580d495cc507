//! Parsers of TorchServe's values into ferroserve's keys: numbers and booleans, addresses,
//! the start-up model lists and their JSON, `allowed_urls` regexes reduced to prefixes.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::StartupModel;

pub(super) fn set(
    t: &mut toml::Table,
    key: &'static str,
    value: toml::Value,
) -> Result<Vec<&'static str>, String> {
    t.insert(key.into(), value);
    Ok(vec![key])
}

pub(super) fn integer(v: &str) -> Result<toml::Value, String> {
    v.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .map(toml::Value::Integer)
        .ok_or_else(|| "expected a whole number".into())
}

pub(super) fn boolean(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// TorchServe's default gRPC port for a ferroserve gRPC address key.
fn grpc_default_port(key: &str) -> u16 {
    if key == "grpc_management_address" {
        7071
    } else {
        7070
    }
}

/// The address `key` holds so far: what an earlier key set, else TorchServe's defaults.
fn grpc_address(t: &toml::Table, key: &str) -> (String, u16) {
    let current = t.get(key).and_then(|v| v.as_str()).and_then(|a| {
        let (host, port) = a.rsplit_once(':')?;
        Some((host.to_owned(), port.parse().ok()?))
    });
    current.unwrap_or_else(|| ("127.0.0.1".to_owned(), grpc_default_port(key)))
}

/// `grpc_*_address`: a host (TorchServe's form) that keeps the port set so far.
pub(super) fn grpc_host(
    v: &str,
    t: &mut toml::Table,
    key: &'static str,
) -> Result<Vec<&'static str>, String> {
    if v.contains("://") || v.parse::<std::net::IpAddr>().is_err() {
        return Err(
            "give an IP address such as 127.0.0.1 or 0.0.0.0 (the port is grpc_*_port)".into(),
        );
    }
    let (_, port) = grpc_address(t, key);
    let host = if v.contains(':') {
        format!("[{v}]")
    } else {
        v.to_owned()
    };
    set(t, key, format!("{host}:{port}").into())
}

/// `grpc_*_port`: the port, keeping the host set so far.
pub(super) fn grpc_port(
    v: &str,
    t: &mut toml::Table,
    key: &'static str,
) -> Result<Vec<&'static str>, String> {
    let port: u16 = v
        .parse()
        .map_err(|_| "expected a port number (0-65535)".to_owned())?;
    let (host, _) = grpc_address(t, key);
    set(t, key, format!("{host}:{port}").into())
}

/// `http://HOST:PORT` (TorchServe's form) or `HOST:PORT`. An `https://` listener is refused:
/// serving it as plain HTTP would drop the TLS the operator asked for.
pub(super) fn address(
    v: &str,
    t: &mut toml::Table,
    key: &'static str,
) -> Result<Vec<&'static str>, String> {
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
pub(super) fn load_models(v: &str, t: &mut toml::Table) -> Result<Vec<&'static str>, String> {
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
pub(super) fn startup_models(
    v: &str,
    t: &mut toml::Table,
    key: &str,
) -> Result<Vec<&'static str>, String> {
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
pub(super) fn allowed_urls(v: &str, t: &mut toml::Table) -> Result<Vec<&'static str>, String> {
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
