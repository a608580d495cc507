//! Query parameters as TorchServe's clients send them: an empty value (`limit=`) means the
//! parameter's default, booleans are case-insensitive. A value that is there but does not
//! parse (`batch_size=dd`) stays a 400 naming it, where TorchServe would silently use the
//! default (a documented difference: docs/torchserve.md).

use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// A value from a query string (always text) or a JSON body (text, number or boolean).
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Bool(bool),
}

impl Raw {
    fn text(self) -> String {
        match self {
            Raw::Text(s) => s,
            Raw::Unsigned(n) => n.to_string(),
            Raw::Signed(n) => n.to_string(),
            Raw::Bool(b) => b.to_string(),
        }
    }
}

/// `""` → `None`; otherwise the value parsed as `T`.
pub fn number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let raw = Option::<Raw>::deserialize(d)?.map(Raw::text);
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{v:?} is not a number ({e})"))),
    }
}

/// `true`/`false` in any case; `""` is false, as TorchServe's `Boolean.parseBoolean` has it.
pub fn boolean<'de, D>(d: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    let raw = Option::<Raw>::deserialize(d)?.map(Raw::text);
    match raw.as_deref().map(str::trim) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.is_empty() || v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(serde::de::Error::custom(format!(
            "{v:?} is not true or false"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct P {
        #[serde(default, deserialize_with = "super::number")]
        n: Option<u32>,
        #[serde(default, deserialize_with = "super::boolean")]
        b: Option<bool>,
    }

    fn parse(q: &str) -> Result<P, String> {
        serde_urlencoded_like(q)
    }

    /// axum's `Query` uses serde_urlencoded; its `Form` extractor shares it.
    fn serde_urlencoded_like(q: &str) -> Result<P, String> {
        let uri: axum::http::Uri = format!("/?{q}").parse().unwrap();
        axum::extract::Query::<P>::try_from_uri(&uri)
            .map(|axum::extract::Query(p)| p)
            .map_err(|e| e.body_text())
    }

    #[test]
    fn empty_means_default_and_junk_is_named() {
        let p = parse("n=&b=").unwrap();
        assert_eq!((p.n, p.b), (None, Some(false)));
        let p = parse("n=7&b=TRUE").unwrap();
        assert_eq!((p.n, p.b), (Some(7), Some(true)));
        let p = parse("").unwrap();
        assert_eq!((p.n, p.b), (None, None));
        let e = parse("n=dd").unwrap_err();
        assert!(e.contains("\"dd\" is not a number"), "{e}");
        let e = parse("n=99999999999").unwrap_err();
        assert!(e.contains("99999999999"), "{e}");
        assert!(parse("b=yes").unwrap_err().contains("\"yes\""));
    }

    #[test]
    fn json_bodies_bring_numbers_and_booleans() {
        let p: P = serde_json::from_str(r#"{"n": 4, "b": true}"#).unwrap();
        assert_eq!((p.n, p.b), (Some(4), Some(true)));
        let p: P = serde_json::from_str(r#"{"n": "5", "b": "false"}"#).unwrap();
        assert_eq!((p.n, p.b), (Some(5), Some(false)));
        assert!(serde_json::from_str::<P>(r#"{"n": -1}"#).is_err());
        assert!(serde_json::from_str::<P>(r#"{"n": [1]}"#).is_err());
    }
}
