//! The optional model-config YAML: TorchServe's keys at the top level, ferroserve's own
//! settings under the single `ferroserve:` key (see docs/archive-format.md).

use std::collections::BTreeMap;

use ferroserve_tensor::DType;
use serde::{Deserialize, Serialize};

use crate::ArchiveError;

/// The version of ferroserve's settings this crate reads (`ferroserve.formatVersion`).
pub const FORMAT_VERSION: u32 = 1;

/// The model config. TorchServe keys ferroserve does not use are ignored, as TorchServe
/// ignores `ferroserve:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelConfig {
    pub batch_size: Option<u32>,
    pub max_batch_delay: Option<u64>,
    pub min_workers: Option<u32>,
    pub max_workers: Option<u32>,
    pub response_timeout: Option<u64>,
    pub ferroserve: Option<FerroserveSettings>,
}

/// ferroserve's own settings. Unknown keys are errors, so a typo is caught at upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FerroserveSettings {
    pub format_version: u32,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub handler_limits: Option<HandlerLimits>,
    #[serde(default)]
    pub inputs: Vec<InputSpec>,
    /// The model's outputs, for KServe v2 metadata; without them the server learns the
    /// outputs from the warm-up (fixed-shape `inputs` only).
    #[serde(default)]
    pub outputs: Vec<OutputSpec>,
    #[serde(default)]
    pub handler_params: BTreeMap<String, String>,
}

/// Limits the archive asks for; the server grants at most the tenant's caps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HandlerLimits {
    pub memory_mib: Option<u64>,
    pub deadline_ms: Option<u64>,
    pub max_output_bytes: Option<u64>,
}

/// One model input as the handler produces it (no batch dimension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<i64>,
}

/// One model output (no batch dimension), declared like an input.
pub type OutputSpec = InputSpec;

/// Accepted though ferroserve's tensors cannot carry it: TorchServe configs may declare it,
/// and the runtime refuses it with its own message when it loads the model.
const INT16: &str = "int16";

/// The dtypes a config may declare, in the tensor crate's archive spelling.
fn known_dtype(name: &str) -> bool {
    DType::from_archive_name(name).is_some() || name == INT16
}

fn known_dtypes() -> String {
    let mut names: Vec<&str> = DType::ALL.iter().map(|d| d.archive_name()).collect();
    names.push(INT16);
    names.join(", ")
}

impl ModelConfig {
    /// Parse and check the YAML named `file` in the manifest.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<ModelConfig, ArchiveError> {
        let field = |field: String, problem: String| ArchiveError::ConfigField {
            file: file.to_string(),
            field,
            problem,
        };
        let value: serde_yaml_ng::Value =
            serde_yaml_ng::from_slice(bytes).map_err(|e| ArchiveError::ConfigYaml {
                file: file.to_string(),
                message: e.to_string(),
            })?;
        if value.is_null() {
            return Ok(ModelConfig::default());
        }
        let config: ModelConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let (f, p) = crate::manifest::path_error(e.path().to_string(), e.inner().to_string());
            field(f, p)
        })?;
        if let Some(fs) = &config.ferroserve {
            if fs.format_version != FORMAT_VERSION {
                return Err(field(
                    "ferroserve.formatVersion".into(),
                    format!(
                        "is {}; this ferroserve reads version {FORMAT_VERSION}",
                        fs.format_version
                    ),
                ));
            }
            if let Some(d) = &fs.device
                && !(d == "cpu"
                    || d == "cuda"
                    || d.strip_prefix("cuda:")
                        .is_some_and(|n| n.parse::<u32>().is_ok()))
            {
                return Err(field(
                    "ferroserve.device".into(),
                    format!("is {d:?}; expected \"cpu\", \"cuda\" or \"cuda:N\""),
                ));
            }
            let specs = fs.inputs.iter().map(|s| ("inputs", s));
            let specs = specs.chain(fs.outputs.iter().map(|s| ("outputs", s)));
            let mut seen = std::collections::HashSet::new();
            for (i, (list, spec)) in specs.enumerate() {
                let i = if list == "inputs" {
                    i
                } else {
                    i - fs.inputs.len()
                };
                if !known_dtype(&spec.dtype) {
                    return Err(field(
                        format!("ferroserve.{list}[{i}].dtype"),
                        format!("is {:?}; expected one of {}", spec.dtype, known_dtypes()),
                    ));
                }
                if spec.shape.iter().any(|&d| d < -1) {
                    return Err(field(
                        format!("ferroserve.{list}[{i}].shape"),
                        "has a dimension below -1; use -1 for a free dimension".into(),
                    ));
                }
                if !seen.insert((list, spec.name.as_str())) {
                    return Err(field(
                        format!("ferroserve.{list}[{i}].name"),
                        format!(
                            "is {:?}, declared twice; give each {list} entry its own name",
                            spec.name
                        ),
                    ));
                }
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_torchserve_keys_and_the_ferroserve_section() {
        let yaml = "batchSize: 8\nmaxBatchDelay: 50\nminWorkers: 1\nmaxWorkers: 4\nresponseTimeout: 120\ndeviceType: gpu\nferroserve:\n  formatVersion: 1\n  device: cuda:0\n  handlerLimits: {memoryMib: 128, deadlineMs: 500}\n  inputs: [{name: input, dtype: float32, shape: [3, 224, 224]}]\n  handlerParams: {topk: \"5\"}\n";
        let c = ModelConfig::parse("model-config.yaml", yaml.as_bytes()).unwrap();
        assert_eq!(
            (c.batch_size, c.max_batch_delay, c.max_workers),
            (Some(8), Some(50), Some(4))
        );
        let f = c.ferroserve.unwrap();
        assert_eq!(f.device.as_deref(), Some("cuda:0"));
        assert_eq!(f.handler_limits.unwrap().memory_mib, Some(128));
        assert_eq!(f.inputs[0].shape, vec![3, 224, 224]);
        assert_eq!(f.handler_params["topk"], "5");
    }

    #[test]
    fn errors_name_the_key() {
        let e = |y: &str| {
            ModelConfig::parse("c.yaml", y.as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("batchSize: many\n"),
            "model config \"c.yaml\": key `batchSize` is wrong: invalid type: string \"many\", expected u32"
        );
        assert_eq!(
            e("ferroserve:\n  formatVersion: 1\n  devise: cpu\n"),
            "model config \"c.yaml\": key `ferroserve.devise` is wrong: unknown field `devise`, expected one of `formatVersion`, `device`, `handlerLimits`, `inputs`, `outputs`, `handlerParams`"
        );
        assert_eq!(
            e("ferroserve:\n  formatVersion: 2\n"),
            "model config \"c.yaml\": key `ferroserve.formatVersion` is 2; this ferroserve reads version 1"
        );
        assert!(
            e("ferroserve: {formatVersion: 1, inputs: [{name: x, dtype: complex, shape: [1]}]}")
                .contains("`ferroserve.inputs[0].dtype` is \"complex\"; expected one of float32, float16, bfloat16, float64, int64, int32, int8, uint8, bool, int16")
        );
        let int16 = "ferroserve: {formatVersion: 1, inputs: [{name: x, dtype: int16, shape: [1]}]}";
        assert!(ModelConfig::parse("c.yaml", int16.as_bytes()).is_ok());
        assert!(e("a: [").starts_with("model config \"c.yaml\" is not valid YAML"));
    }

    #[test]
    fn outputs_are_checked_like_inputs_and_named_by_their_own_index() {
        let parse = |y: &str| ModelConfig::parse("c.yaml", y.as_bytes());
        let ok = "ferroserve: {formatVersion: 1, inputs: [{name: x, dtype: float32, shape: [4]}], \
                  outputs: [{name: y, dtype: float32, shape: [2]}, {name: x, dtype: int64, shape: []}]}";
        let f = parse(ok).unwrap().ferroserve.unwrap();
        assert_eq!(
            (f.outputs[0].name.as_str(), f.outputs[1].dtype.as_str()),
            ("y", "int64")
        );
        let e = |y: &str| parse(y).unwrap_err().to_string();
        assert!(
            e("ferroserve: {formatVersion: 1, inputs: [{name: x, dtype: float32, shape: [4]}], \
               outputs: [{name: y, dtype: float32, shape: [2]}, {name: z, dtype: text, shape: [1]}]}")
            .contains("`ferroserve.outputs[1].dtype` is \"text\"")
        );
        assert!(
            e("ferroserve: {formatVersion: 1, outputs: [{name: y, dtype: float32, shape: [-2]}]}")
                .contains("`ferroserve.outputs[0].shape` has a dimension below -1")
        );
        let twice = "ferroserve: {formatVersion: 1, outputs: [{name: y, dtype: float32, shape: [1]}, \
                     {name: y, dtype: float32, shape: [1]}]}";
        assert!(e(twice).contains("`ferroserve.outputs[1].name` is \"y\", declared twice"));
    }
}
