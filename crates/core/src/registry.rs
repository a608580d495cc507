//! Registered models: name → versions → model, with a default version per name.
//! Reads (every inference) take a read lock for a map lookup and a clone of an `Arc`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use crate::{Error, Model, ModelKey};

#[derive(Default)]
struct Versions {
    models: BTreeMap<String, Arc<Model>>,
    default: String,
}

/// The models this server serves.
#[derive(Clone, Default)]
pub struct Registry {
    models: Arc<RwLock<HashMap<ModelKey, Versions>>>,
}

impl Registry {
    /// Adds a model version; the first version of a name becomes its default.
    pub fn insert(&self, model: Arc<Model>) -> Result<(), Error> {
        let mut models = self.models.write().unwrap();
        let (name, version) = (model.key.clone(), model.version.clone());
        let entry = models.entry(name.clone()).or_default();
        if entry.models.contains_key(&version) {
            return Err(conflict(&name, &version));
        }
        if entry.models.is_empty() {
            entry.default = version.clone();
        }
        entry.models.insert(version, model);
        Ok(())
    }

    /// Fails with a conflict when `name` already has `version`: checked before an expensive load.
    pub fn check_free(&self, name: &ModelKey, version: &str) -> Result<(), Error> {
        let models = self.models.read().unwrap();
        match models.get(name) {
            Some(v) if v.models.contains_key(version) => Err(conflict(name, version)),
            _ => Ok(()),
        }
    }

    /// The model `name` at `version`, or at its default version.
    pub fn get(&self, name: &ModelKey, version: Option<&str>) -> Result<Arc<Model>, Error> {
        check(name, version)?;
        let models = self.models.read().unwrap();
        let entry = models.get(name).ok_or_else(|| not_found(name))?;
        let version = version.unwrap_or(&entry.default);
        entry
            .models
            .get(version)
            .cloned()
            .ok_or_else(|| version_not_found(name, version))
    }

    /// Every version of `name` with whether it is the default, in version order.
    pub fn versions(&self, name: &ModelKey) -> Result<Vec<(Arc<Model>, bool)>, Error> {
        check(name, None)?;
        let models = self.models.read().unwrap();
        let entry = models.get(name).ok_or_else(|| not_found(name))?;
        Ok(entry
            .models
            .values()
            .map(|m| (m.clone(), m.version == entry.default))
            .collect())
    }

    pub fn is_default(&self, model: &Model) -> bool {
        let models = self.models.read().unwrap();
        models
            .get(&model.key)
            .is_some_and(|e| e.default == model.version)
    }

    /// Makes `version` the default of `name`.
    pub fn set_default(&self, name: &ModelKey, version: &str) -> Result<(), Error> {
        check(name, Some(version))?;
        let mut models = self.models.write().unwrap();
        let entry = models.get_mut(name).ok_or_else(|| not_found(name))?;
        if !entry.models.contains_key(version) {
            return Err(version_not_found(name, version));
        }
        entry.default = version.to_owned();
        Ok(())
    }

    /// Removes `name` at `version` (or its default). The default version goes only when it
    /// is the last one, so a name never loses its default while other versions remain.
    pub fn remove(&self, name: &ModelKey, version: Option<&str>) -> Result<Arc<Model>, Error> {
        check(name, version)?;
        let mut models = self.models.write().unwrap();
        let entry = models.get_mut(name).ok_or_else(|| not_found(name))?;
        let version = version.unwrap_or(&entry.default).to_owned();
        if !entry.models.contains_key(&version) {
            return Err(version_not_found(name, &version));
        }
        if version == entry.default && entry.models.len() > 1 {
            return Err(Error::DefaultVersionInUse {
                name: name.to_string(),
                version,
            });
        }
        let model = entry.models.remove(&version).expect("checked above");
        if entry.models.is_empty() {
            models.remove(name);
        }
        Ok(model)
    }

    /// The default version of every name in `tenant`'s namespace, sorted by name.
    pub fn defaults_of(&self, tenant: Option<&str>) -> Vec<Arc<Model>> {
        let mut list = self.defaults();
        list.retain(|m| m.tenant() == tenant);
        list
    }

    /// The default version of every name, sorted by key.
    pub fn defaults(&self) -> Vec<Arc<Model>> {
        let models = self.models.read().unwrap();
        let mut list: Vec<Arc<Model>> = models
            .values()
            .filter_map(|v| v.models.get(&v.default).cloned())
            .collect();
        list.sort_by(|a, b| a.key.cmp(&b.key));
        list
    }

    /// Every model version, with whether it is its name's default.
    pub fn all(&self) -> Vec<(Arc<Model>, bool)> {
        let models = self.models.read().unwrap();
        let mut list: Vec<(Arc<Model>, bool)> = models
            .values()
            .flat_map(|v| {
                v.models
                    .values()
                    .map(|m| (m.clone(), m.version == v.default))
            })
            .collect();
        list.sort_by(|a, b| (&a.0.key, &a.0.version).cmp(&(&b.0.key, &b.0.version)));
        list
    }

    /// Every version in `tenant`'s namespace, sorted by name and version.
    pub fn versions_of(&self, tenant: Option<&str>) -> Vec<Arc<Model>> {
        self.all()
            .into_iter()
            .filter(|(m, _)| m.tenant() == tenant)
            .map(|(m, _)| m)
            .collect()
    }

    /// Whether every version is healthy: `tenant`'s own, or with `None` the whole
    /// server's (an admin's view), for the tensor protocols' server readiness.
    pub fn ready_for(&self, tenant: Option<&str>) -> bool {
        self.all()
            .iter()
            .filter(|(m, _)| tenant.is_none() || m.tenant() == tenant)
            .all(|(m, _)| m.is_healthy())
    }

    /// How many names `tenant` owns.
    pub fn keys_of(&self, tenant: Option<&str>) -> usize {
        self.defaults_of(tenant).len()
    }

    pub fn has_name(&self, key: &ModelKey) -> bool {
        self.models.read().unwrap().contains_key(key)
    }
}

/// Names and versions a lookup gives follow the one rule (`bounds::check_name`): a name
/// that could never be registered is a 400 saying why, not a 404 echoing it whole.
fn check(key: &ModelKey, version: Option<&str>) -> Result<(), Error> {
    crate::bounds::check_name("model name", &key.name)?;
    match version {
        Some(v) => crate::bounds::check_name("model version", v),
        None => Ok(()),
    }
}

fn conflict(key: &ModelKey, version: &str) -> Error {
    Error::VersionExists {
        name: key.to_string(),
        version: version.to_owned(),
    }
}

fn not_found(key: &ModelKey) -> Error {
    Error::ModelNotFound(key.to_string())
}

fn version_not_found(key: &ModelKey, version: &str) -> Error {
    Error::VersionNotFound {
        name: key.to_string(),
        version: version.to_owned(),
    }
}
