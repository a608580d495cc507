//! `MAR-INF/MANIFEST.json`, TorchServe's schema. Unknown keys are kept, so a manifest
//! read and written again is unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ArchiveError;

/// Where the manifest lives inside the archive.
pub const MANIFEST_PATH: &str = "MAR-INF/MANIFEST.json";

/// The archive's manifest (TorchServe's `.mar` schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
    pub runtime: String,
    pub model: ModelSection,
    pub archiver_version: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The manifest's `model` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSection {
    pub model_name: String,
    pub model_version: String,
    pub serialized_file: String,
    pub handler: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn field_err(field: &str, problem: impl Into<String>) -> ArchiveError {
    ArchiveError::ManifestField {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// Turn a serde error with its path into "field `a.b` <problem>".
pub(crate) fn path_error(path: String, msg: String) -> (String, String) {
    let prefix = if path == "." {
        String::new()
    } else {
        format!("{path}.")
    };
    if let Some(rest) = msg.strip_prefix("missing field `")
        && let Some(name) = rest.split('`').next()
    {
        return (format!("{prefix}{name}"), "is missing".to_string());
    }
    let problem = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    (path, format!("is wrong: {problem}"))
}

impl Manifest {
    /// Parse and check the manifest's JSON.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ArchiveError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| ArchiveError::ManifestJson(e.to_string()))?;
        if !value.is_object() {
            return Err(field_err("(top level)", "must be a JSON object"));
        }
        let manifest: Manifest = serde_path_to_error::deserialize(value).map_err(|e| {
            let (field, problem) = path_error(e.path().to_string(), e.inner().to_string());
            ArchiveError::ManifestField { field, problem }
        })?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), ArchiveError> {
        let m = &self.model;
        if !valid_model_name(&m.model_name) {
            return Err(field_err(
                "model.modelName",
                format!(
                    "is {:?}; expected letters, digits, `_`, `-` or `.`, starting with a letter or digit (like \"resnet18\")",
                    m.model_name
                ),
            ));
        }
        if !valid_model_name(&m.model_version) {
            return Err(field_err(
                "model.modelVersion",
                format!("is {:?}; expected a version like \"1.0\"", m.model_version),
            ));
        }
        for (field, v) in [
            ("model.serializedFile", Some(&m.serialized_file)),
            ("model.handler", Some(&m.handler)),
            ("model.configFile", m.config_file.as_ref()),
        ] {
            if let Some(v) = v
                && crate::names::check_name(v).is_err()
            {
                return Err(field_err(
                    field,
                    format!("is {v:?}; expected a file name inside the archive, like \"model.pt\""),
                ));
            }
        }
        if self.runtime.is_empty() {
            return Err(field_err(
                "runtime",
                "is empty; expected \"python\" (what torch-model-archiver writes)",
            ));
        }
        Ok(())
    }

    /// The manifest as written into archives (pretty JSON, like torch-model-archiver).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest always serializes")
    }
}

/// TorchServe's rule for model names and versions (at most 128 characters): the server
/// applies the same rule to every name a request gives.
pub fn valid_model_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && s.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        Manifest::parse(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn reads_torch_model_archiver_manifest_and_keeps_unknown_keys() {
        let json = r#"{"createdOn":"24/11/2026 08:00:00","runtime":"python","model":{"modelName":"x","serializedFile":"model.pt","handler":"handler.wasm","modelVersion":"1.0","requirementsFile":"r.txt"},"archiverVersion":"0.12.0"}"#;
        let m = Manifest::parse(json.as_bytes()).unwrap();
        assert_eq!(m.model.model_name, "x");
        assert_eq!(m.model.extra["requirementsFile"], "r.txt");
        let again = Manifest::parse(m.to_json().as_bytes()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            err(r#"{"runtime":"python","model":{"modelName":5},"archiverVersion":"1"}"#),
            "MAR-INF/MANIFEST.json: field `model.modelName` is wrong: invalid type: integer `5`, expected a string"
        );
        assert_eq!(
            err(r#"{"runtime":"python","archiverVersion":"1"}"#),
            "MAR-INF/MANIFEST.json: field `model` is missing"
        );
        assert!(err(r#"{"runtime":"python","archiverVersion":"1","model":{"modelName":"a b","modelVersion":"1","serializedFile":"m.pt","handler":"h.wasm"}}"#)
            .starts_with("MAR-INF/MANIFEST.json: field `model.modelName` is \"a b\""));
        assert!(err("[1]").contains("field `(top level)` must be a JSON object"));
    }
}
