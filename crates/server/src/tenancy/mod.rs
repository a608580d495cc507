//! Multi-tenancy: tenants with tokens and quotas (`store.rs`), and who a request is
//! (`Principal`), decided from its bearer token. A tenant's models live in its own
//! namespace: the registry key of tenant `a`'s model `resnet` is `a/resnet`, so two tenants
//! may both own `resnet` and TorchServe's paths stay as they are.

mod store;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use store::Tenant;
pub use store::{TenantRecord, Tenants, TokenRecord};

/// A tenant's limits. Exceeding one answers 429 naming it and its limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quotas {
    pub max_models: usize,
    pub max_archive_bytes: u64,
    pub max_handler_memory_mib: usize,
    pub max_handler_deadline_ms: u64,
    pub max_concurrent_requests: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            max_models: 10,
            max_archive_bytes: 512 << 20,
            max_handler_memory_mib: 256,
            max_handler_deadline_ms: 2000,
            max_concurrent_requests: 16,
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Principal {
    /// Auth is off: one shared namespace, everything allowed (the single-tenant default).
    Open,
    /// The operator: manages tenants, and acts in a tenant's namespace when the request
    /// names it (`x-ferroserve-tenant`), else in the shared one.
    Admin {
        acting_for: Option<Arc<Tenant>>,
    },
    Tenant(Arc<Tenant>),
}

impl Principal {
    /// The tenant whose namespace and quotas apply, if any.
    pub fn tenant(&self) -> Option<&Arc<Tenant>> {
        match self {
            Principal::Open | Principal::Admin { acting_for: None } => None,
            Principal::Admin {
                acting_for: Some(t),
            }
            | Principal::Tenant(t) => Some(t),
        }
    }

    /// The registry key of `name` in this principal's namespace.
    pub fn qualify(&self, name: &str) -> String {
        match self.tenant() {
            Some(t) => format!("{}/{name}", t.name),
            None => name.to_owned(),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Open | Principal::Admin { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_as_hashes_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let tenants = Tenants::open(Some(dir.path().into())).unwrap();
        let (record, token) = tenants.create("acme", Quotas::default()).unwrap();
        assert!(token.starts_with("fs_") && token.len() == 67, "{token}");
        let on_disk = std::fs::read_to_string(dir.path().join("tenants.json")).unwrap();
        assert!(!on_disk.contains(&token), "the secret is never written");
        assert!(on_disk.contains(&record.tokens[0].sha256));

        let reopened = Tenants::open(Some(dir.path().into())).unwrap();
        assert_eq!(reopened.authenticate(&token).unwrap().name, "acme");
        assert!(reopened.authenticate("fs_wrong").is_none());

        let (second, token2) = reopened.issue_token("acme").unwrap();
        reopened.revoke("acme", &record.tokens[0].id).unwrap();
        assert!(reopened.authenticate(&token).is_none(), "revoked");
        assert_eq!(reopened.authenticate(&token2).unwrap().name, "acme");
        assert_eq!(reopened.list()[0].tokens, vec![second]);
    }

    #[test]
    fn names_are_checked_and_unique() {
        let tenants = Tenants::open(None).unwrap();
        assert_eq!(
            tenants.create("a/b", Quotas::default()).unwrap_err().kind,
            "InvalidTenantName"
        );
        tenants.create("a", Quotas::default()).unwrap();
        assert_eq!(
            tenants.create("a", Quotas::default()).unwrap_err().code,
            409
        );
        let (_, token) = tenants.issue_token("a").unwrap();
        tenants.remove("a").unwrap();
        assert!(
            tenants.authenticate(&token).is_none(),
            "a removed tenant's tokens die with it"
        );
    }

    #[test]
    fn namespaces_keep_tenants_apart() {
        let tenants = Tenants::open(None).unwrap();
        tenants.create("a", Quotas::default()).unwrap();
        let a = Principal::Tenant(tenants.get("a").unwrap());
        assert_eq!(a.qualify("resnet"), "a/resnet");
        assert_eq!(Principal::Open.qualify("resnet"), "resnet");
        assert!(!a.is_admin());
    }
}
