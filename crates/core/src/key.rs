//! [`ModelKey`]: a model name in a namespace. Every lookup, metric label, snapshot entry
//! and work directory derives from it, so `tenant/name` is formatted in one place.

use std::fmt;

/// A model's name in its owner's namespace: a tenant's, or the shared one (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelKey {
    pub tenant: Option<String>,
    pub name: String,
}

impl ModelKey {
    pub fn new(tenant: Option<&str>, name: &str) -> ModelKey {
        ModelKey {
            tenant: tenant.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// In the shared namespace.
    pub fn shared(name: &str) -> ModelKey {
        ModelKey::new(None, name)
    }

    /// For a directory name: `tenant-name` (model and tenant names have no `/`).
    pub fn file_stem(&self) -> String {
        self.to_string().replace('/', "-")
    }
}

/// `tenant/name`, or `name` in the shared namespace: the `model_name` label of a tenant's
/// metrics. Model names cannot contain `/` (the archive reader refuses them), so keys of
/// different tenants never collide.
impl fmt::Display for ModelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tenant {
            Some(t) => write!(f, "{t}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_its_namespace() {
        assert_eq!(ModelKey::new(Some("a"), "resnet").to_string(), "a/resnet");
        assert_eq!(ModelKey::shared("resnet").to_string(), "resnet");
        assert_eq!(ModelKey::new(Some("a"), "resnet").file_stem(), "a-resnet");
        assert_ne!(ModelKey::new(Some("a"), "m"), ModelKey::shared("a/m"));
    }
}
