//! TorchServe's `config.properties`, read as is (`ferroserve serve --ts-config FILE`): Java
//! properties syntax, then each key TorchServe documents translated into ferroserve's keys
//! (a TOML table the binary layers under the file, the environment and flags). Keys with no
//! meaning here are reported, never fatal; a value ferroserve cannot honour without
//! changing its meaning (an `https://` listener, an `allowed_urls` regex that is not a set of
//! prefixes) stops the start with a message saying what to write instead. The same table is
//! in docs/torchserve.md.

use std::collections::BTreeMap;

mod keys;
mod values;

use keys::{Rule, rule};
use values::boolean;

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

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
