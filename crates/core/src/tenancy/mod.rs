//! Multi-tenancy: tenants with tokens and quotas (`store.rs`), and who a request is
//! (`Principal`), decided from its bearer token. A tenant's models live in its own
//! namespace: the registry key of tenant `a`'s model `resnet` is `a/resnet`, so two tenants
//! may both own `resnet` and TorchServe's paths stay as they are.

mod audit;
mod auth;
mod quotas;
mod rate;
mod store;

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use crate::{Error, ModelKey};

pub use audit::Audit;
pub use auth::{Api, Auth, KeyFile};
pub use quotas::{ModelLimits, Quotas, model_limits};
pub use store::Tenant;
pub use store::{TenantRecord, Tenants, TokenRecord};

/// How long a request over one of its tenant's quotas waits before its 429, at least.
pub const OVER_QUOTA_DELAY: std::time::Duration = std::time::Duration::from_millis(250);

/// How many times [`OVER_QUOTA_DELAY`] a refusal waits at most (2 s).
pub const MAX_REFUSAL_HOLD: u32 = 8;

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
    pub fn qualify(&self, name: &str) -> ModelKey {
        ModelKey::new(self.tenant().map(|t| t.name.as_str()), name)
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Open | Principal::Admin { .. })
    }

    /// Tenant management is the operator's, in no tenant's namespace.
    pub fn require_admin(&self) -> Result<(), Error> {
        match self {
            Principal::Tenant(_)
            | Principal::Admin {
                acting_for: Some(_),
            } => Err(Error::Forbidden(
                "managing tenants needs the admin token (without x-ferroserve-tenant)",
            )),
            Principal::Open | Principal::Admin { acting_for: None } => Ok(()),
        }
    }

    /// For the audit log.
    pub fn describe(&self) -> String {
        match self {
            Principal::Open => "anonymous (auth off)".into(),
            Principal::Admin { acting_for: None } => "admin".into(),
            Principal::Admin {
                acting_for: Some(t),
            } => format!("admin for tenant {}", t.name),
            Principal::Tenant(t) => format!("tenant {}", t.name),
        }
    }

    /// Holds one of the tenant's concurrent-request permits for as long as the request
    /// runs; a quota error naming it when all are taken, after the refusal's hold
    /// ([`Refused::answer`]).
    pub async fn admit(&self) -> Result<Option<OwnedSemaphorePermit>, Error> {
        self.admit_on(Api::Inference).await
    }

    /// The permit a request on `api` holds while it runs, taken by each protocol's edge
    /// before the body is read: the tenant's `max_concurrent_requests` on the inference
    /// API, its `max_concurrent_management` on the management API, none on metrics.
    pub async fn admit_on(&self, api: Api) -> Result<Option<OwnedSemaphorePermit>, Error> {
        match self.try_admit_on(api) {
            Ok(permit) => Ok(permit),
            Err(refused) => Err(refused.answer().await),
        }
    }

    /// [`Principal::admit_on`] without the wait: a refusal comes back at once, to be
    /// answered after its hold. An edge gives back its listener's in-flight slot first,
    /// so refusals waiting out their hold never crowd another tenant off the listener.
    /// The operator, acting for a tenant or not, is not held to a tenant's management
    /// quotas.
    pub fn try_admit_on(&self, api: Api) -> Result<Option<OwnedSemaphorePermit>, Refused> {
        match (api, self) {
            (Api::Inference, p) => match p.tenant() {
                Some(t) => {
                    let limit = t.quotas.max_concurrent_requests;
                    permit(
                        t,
                        &t.in_flight,
                        "max_concurrent_requests",
                        limit,
                        "requests",
                    )
                }
                None => Ok(None),
            },
            (Api::Management, Principal::Tenant(t)) => {
                let limit = t.quotas.max_concurrent_management;
                let what = "management requests";
                permit(t, &t.managing, "max_concurrent_management", limit, what)
            }
            (Api::Management | Api::Metrics, _) => Ok(None),
        }
    }

    /// Spends one of the tenant's management changes (every protocol's registrations,
    /// scale, unregister and set-default pass here, in the core), before anything is read
    /// or started; refused after [`Tenant::hold_refusal`], so a loop that ignores
    /// `Retry-After` mostly sleeps.
    pub async fn spend_change(&self) -> Result<(), Error> {
        let Principal::Tenant(t) = self else {
            return Ok(());
        };
        let Err(wait) = t.changes.take(std::time::Instant::now()) else {
            return Ok(());
        };
        let held = std::time::Instant::now();
        t.hold_refusal(1).wait().await;
        Err(Error::ChangeRate {
            tenant: t.name.clone(),
            limit: t.quotas.max_management_changes_per_minute,
            retry_after: wait.map(|w| w.saturating_sub(held.elapsed())),
        })
    }
}

/// One of `permits`, or after the refusal's hold the 429 naming `quota`.
fn permit(
    t: &Arc<Tenant>,
    permits: &Arc<tokio::sync::Semaphore>,
    quota: &'static str,
    limit: usize,
    what: &str,
) -> Result<Option<OwnedSemaphorePermit>, Refused> {
    if let Ok(permit) = permits.clone().try_acquire_owned() {
        return Ok(Some(permit));
    }
    let hold = t.hold_refusal(limit);
    let what = format!("tenant {} has {limit} {what} in flight", t.name);
    Err(Refused {
        error: Box::new(Error::quota(quota, limit as u64, what)),
        hold,
    })
}

/// A request over its tenant's in-flight quota: the 429 to answer once its hold is over.
/// The hold ([`Tenant::hold_refusal`]) makes a flood that ignores `Retry-After` cost the
/// server a sleeping task per connection instead of the CPU its rejections would take
/// from other tenants (docs/benchmarks.md, "Noisy neighbour").
#[derive(Debug)]
pub struct Refused {
    error: Box<Error>,
    hold: store::Hold,
}

impl Refused {
    /// Waits out the hold; the error to answer with.
    pub async fn answer(self) -> Error {
        self.hold.wait().await;
        *self.error
    }
}

/// The admin token's sha256, from `<state_dir>/admin.token`; made (mode 0600) and its path
/// logged when missing, so the operator reads it from the file, never from a log.
pub fn admin_token(state_dir: &std::path::Path) -> Result<String, String> {
    let path = state_dir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(token) => Ok(store::hash(token.trim())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(state_dir)
                .map_err(|e| format!("{}: {e}", state_dir.display()))?;
            let token = store::new_secret();
            create_private(&path, token.as_bytes())?;
            tracing::warn!(path = %path.display(), "created the admin token; it is in this file (mode 0600)");
            Ok(store::hash(&token))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// A new file only its owner may read (mode 0600), holding `bytes`; an existing one is an
/// error, so a secret is never written through a file someone else made.
pub(crate) fn create_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
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
    fn tokens_issued_without_auth_are_not_valid_once_it_is_on() {
        let dir = tempfile::tempdir().unwrap();
        let off = Tenants::open(Some(dir.path().into())).unwrap();
        let (_, loose) = off.create("acme", Quotas::default()).unwrap();
        assert!(off.authenticate(&loose).is_some(), "no auth: anything goes");
        let on = Tenants::open(Some(dir.path().into())).unwrap();
        on.set_auth_on(true);
        assert!(on.authenticate(&loose).is_none());
        assert!(on.is_disowned(&loose));
        let (_, fresh) = on.issue_token("acme").unwrap();
        assert_eq!(on.authenticate(&fresh).unwrap().name, "acme");
        assert!(!on.is_disowned(&fresh));
        // Turning auth off and on again does not bless the old token.
        let again = Tenants::open(Some(dir.path().into())).unwrap();
        again.set_auth_on(true);
        assert!(again.authenticate(&loose).is_none());
        assert!(again.authenticate(&fresh).is_some());
    }

    #[test]
    fn names_are_checked_and_unique() {
        let tenants = Tenants::open(None).unwrap();
        assert_eq!(
            tenants.create("a/b", Quotas::default()).unwrap_err().kind(),
            "InvalidTenantName"
        );
        tenants.create("a", Quotas::default()).unwrap();
        assert_eq!(
            tenants.create("a", Quotas::default()).unwrap_err().class(),
            crate::Class::Conflict
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
        assert_eq!(a.qualify("resnet").to_string(), "a/resnet");
        assert_eq!(
            Principal::Open.qualify("resnet"),
            ModelKey::shared("resnet")
        );
        assert!(!a.is_admin());
        assert_eq!(a.require_admin().unwrap_err().kind(), "Forbidden");
    }
}
