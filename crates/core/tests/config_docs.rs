//! docs/configuration.md is what operators read: every key of `ServerConfig` must be in
//! its table with its true default, and the table must name no key that does not exist.

use std::collections::BTreeMap;

use ferroserve_core::ServerConfig;

/// `key` → the default column, from the table's rows.
fn documented() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let key = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((key.to_owned(), cells.get(2)?.to_string()))
        })
        .collect()
}

/// How the docs spell a default: `value` in backticks, or `none` when unset.
fn spelled(value: Option<&toml::Value>) -> String {
    match value {
        None => "none".into(),
        Some(toml::Value::String(s)) => format!("`{s}`"),
        Some(v) => format!("`{v}`"),
    }
}

#[test]
fn every_key_is_documented_with_its_default() {
    let defaults = toml::Table::try_from(ServerConfig::default()).unwrap();
    let docs = documented();
    let keys: Vec<String> = serde_json::to_value(ServerConfig::default())
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for key in &keys {
        let row = docs
            .get(key)
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for `{key}`"));
        assert_eq!(
            row,
            &spelled(defaults.get(key)),
            "docs/configuration.md gives `{key}` a wrong default"
        );
    }
    for key in docs.keys() {
        assert!(
            keys.contains(key),
            "docs/configuration.md documents `{key}`, which is no key"
        );
    }
}
