//! Registered models: name → versions → pipeline, with a default version per name.
//! Reads (every inference) take a read lock for a map lookup and a clone of an `Arc`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use crate::{ApiError, Pipeline};

#[derive(Default)]
struct Versions {
    pipelines: BTreeMap<String, Pipeline>,
    default: String,
}

/// The models this server serves.
#[derive(Clone, Default)]
pub struct Registry {
    models: Arc<RwLock<HashMap<String, Versions>>>,
}

impl Registry {
    /// Add `name` at `version`; the first version of a name becomes its default.
    pub fn insert(&self, name: &str, version: &str, pipeline: Pipeline) -> Result<(), ApiError> {
        let mut models = self.models.write().unwrap();
        let entry = models.entry(name.to_owned()).or_default();
        if entry.pipelines.contains_key(version) {
            return Err(ApiError::new(
                409,
                "ConflictStatusException",
                format!(
                    "Model version {version} is already registered for model {name}; unregister it first or choose another version"
                ),
            ));
        }
        if entry.pipelines.is_empty() {
            entry.default = version.to_owned();
        }
        entry.pipelines.insert(version.to_owned(), pipeline);
        Ok(())
    }

    /// The pipeline for `name` at `version`, or at its default version.
    pub fn get(&self, name: &str, version: Option<&str>) -> Result<Pipeline, ApiError> {
        let models = self.models.read().unwrap();
        let entry = models.get(name).ok_or_else(|| not_found(name))?;
        let version = version.unwrap_or(&entry.default);
        entry.pipelines.get(version).cloned().ok_or_else(|| {
            ApiError::new(404, "ModelVersionNotFoundException", format!("Model version {version} does not exist for model {name}; GET /models/{name} lists its versions"))
        })
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.models.read().unwrap().keys().cloned().collect();
        names.sort();
        names
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        404,
        "ModelNotFoundException",
        format!("Model not found: {name}; GET /models lists the registered models"),
    )
}
