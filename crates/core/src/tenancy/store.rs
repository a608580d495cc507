//! Tenants and their tokens. A token is shown once, at creation; only its sha256 is kept
//! (in memory and in `<state>/tenants.json`, written atomically like the snapshot), so a
//! leaked state directory does not leak credentials. Tokens are 32 random bytes, hex, with
//! a `fs_` prefix so secret scanners can recognise them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::{MAX_REFUSAL_HOLD, OVER_QUOTA_DELAY, Quotas};
use crate::Error;

pub const FILE_NAME: &str = "tenants.json";

/// A token as stored: an id to revoke it by, and the hash of the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    pub id: String,
    pub sha256: String,
    pub created: String,
    /// Issued while the server ran with `auth = "none"`, when anyone could ask for one: such
    /// a token is never valid once auth is on (the operator issues new ones).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub issued_without_auth: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRecord {
    pub name: String,
    pub quotas: Quotas,
    pub tokens: Vec<TokenRecord>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    tenants: Vec<TenantRecord>,
}

/// A tenant as the request path sees it: its quotas and its in-flight counter.
#[derive(Debug)]
pub struct Tenant {
    pub name: String,
    pub quotas: Quotas,
    /// Permits for `quotas.max_concurrent_requests`.
    pub in_flight: Arc<Semaphore>,
    /// Permits for `quotas.max_concurrent_management`.
    pub managing: Arc<Semaphore>,
    /// `quotas.max_management_changes_per_minute`.
    pub changes: super::rate::Bucket,
    /// The tenant's refusals now waiting out their delay.
    refusing: AtomicUsize,
}

impl Tenant {
    /// Waits before a refusal over a quota of `quota` slots: [`OVER_QUOTA_DELAY`], once
    /// more for each `quota` of the tenant's refusals already waiting, up to
    /// [`MAX_REFUSAL_HOLD`] times. A client a little over its quota hears back in 250 ms;
    /// one that reopens hundreds of refused connections at once waits 2 s for each, so
    /// its churn (a head parsed and a connection closed per refusal) costs the server an
    /// eighth of what it would.
    /// It counts among the tenant's waiting refusals from now until the [`Hold`] is dropped.
    pub(crate) fn hold_refusal(self: &Arc<Self>, quota: usize) -> Hold {
        let ahead = self.refusing.fetch_add(1, Ordering::Relaxed);
        Hold {
            tenant: self.clone(),
            wait: refusal_hold(ahead, quota),
        }
    }

    /// How many of the tenant's refusals are waiting out their delay.
    #[cfg(test)]
    fn refusals_waiting(&self) -> usize {
        self.refusing.load(Ordering::Relaxed)
    }
}

/// One refusal's delay ([`Tenant::hold_refusal`]), counted among its tenant's until dropped.
#[derive(Debug)]
pub struct Hold {
    tenant: Arc<Tenant>,
    wait: std::time::Duration,
}

impl Hold {
    pub(crate) async fn wait(self) {
        tokio::time::sleep(self.wait).await;
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.tenant.refusing.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct State {
    records: BTreeMap<String, TenantRecord>,
    live: BTreeMap<String, Arc<Tenant>>,
    /// Token hash → tenant name.
    by_hash: BTreeMap<String, String>,
    /// Whether tokens are checked: then tokens issued without auth are not valid.
    auth_on: bool,
    /// Hashes of tokens issued without auth, refused while auth is on.
    disowned: std::collections::BTreeSet<String>,
}

/// Every tenant, persisted when a directory is given.
pub struct Tenants {
    state: RwLock<State>,
    dir: Option<PathBuf>,
}

impl Tenants {
    /// Loads `dir/tenants.json` when it exists.
    pub fn open(dir: Option<PathBuf>) -> Result<Tenants, String> {
        let tenants = Tenants {
            state: RwLock::new(State::default()),
            dir,
        };
        if let Some(dir) = &tenants.dir {
            let path = dir.join(FILE_NAME);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let file: File = serde_json::from_slice(&bytes)
                        .map_err(|e| format!("{} is not a tenants file ({e})", path.display()))?;
                    let mut state = tenants.state.write().unwrap();
                    for record in file.tenants {
                        super::quotas::check(&record.quotas).map_err(|e| {
                            format!("{}: tenant {}: {e}", path.display(), record.name)
                        })?;
                        state.insert(record);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
            }
        }
        Ok(tenants)
    }

    /// Creates a tenant and its first token, returned in clear this once.
    pub fn create(&self, name: &str, quotas: Quotas) -> Result<(TenantRecord, String), Error> {
        check_name(name)?;
        super::quotas::check(&quotas)?;
        let mut state = self.state.write().unwrap();
        if state.records.contains_key(name) {
            return Err(Error::TenantExists(name.to_owned()));
        }
        let (record, token) = new_token(!state.auth_on);
        state.insert(TenantRecord {
            name: name.into(),
            quotas,
            tokens: vec![record],
        });
        self.save(&state)?;
        Ok((state.records[name].clone(), token))
    }

    pub fn remove(&self, name: &str) -> Result<TenantRecord, Error> {
        let mut state = self.state.write().unwrap();
        let record = state.records.remove(name).ok_or_else(|| not_found(name))?;
        state.live.remove(name);
        state.by_hash.retain(|_, t| t != name);
        self.save(&state)?;
        Ok(record)
    }

    pub fn list(&self) -> Vec<TenantRecord> {
        self.state
            .read()
            .unwrap()
            .records
            .values()
            .cloned()
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Tenant>> {
        self.state.read().unwrap().live.get(name).cloned()
    }

    /// Another token for `name` (rotation): returned in clear this once.
    pub fn issue_token(&self, name: &str) -> Result<(TokenRecord, String), Error> {
        let mut state = self.state.write().unwrap();
        let without_auth = !state.auth_on;
        let record = state.records.get_mut(name).ok_or_else(|| not_found(name))?;
        let (token_record, token) = new_token(without_auth);
        record.tokens.push(token_record.clone());
        state
            .by_hash
            .insert(token_record.sha256.clone(), name.into());
        self.save(&state)?;
        Ok((token_record, token))
    }

    pub fn revoke(&self, name: &str, id: &str) -> Result<(), Error> {
        let mut state = self.state.write().unwrap();
        let record = state.records.get_mut(name).ok_or_else(|| not_found(name))?;
        let i = record
            .tokens
            .iter()
            .position(|t| t.id == id)
            .ok_or_else(|| Error::TokenNotFound {
                tenant: name.to_owned(),
                id: id.to_owned(),
            })?;
        let gone = record.tokens.remove(i);
        state.by_hash.remove(&gone.sha256);
        self.save(&state)?;
        Ok(())
    }

    /// Whether tokens are checked (`auth = "tokens"`): tokens issued before, without auth,
    /// stop being valid.
    pub fn set_auth_on(&self, on: bool) {
        let mut state = self.state.write().unwrap();
        state.auth_on = on;
        let records: Vec<TenantRecord> = state.records.values().cloned().collect();
        state.by_hash.clear();
        state.disowned.clear();
        for record in records {
            state.insert(record);
        }
    }

    /// Whether `token` is one issued without auth, refused now that auth is on.
    pub fn is_disowned(&self, token: &str) -> bool {
        self.state.read().unwrap().disowned.contains(&hash(token))
    }

    /// The tenant a bearer token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<Arc<Tenant>> {
        let state = self.state.read().unwrap();
        let name = state.by_hash.get(&hash(token))?;
        state.live.get(name).cloned()
    }

    fn save(&self, state: &State) -> Result<(), Error> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let file = File {
            version: 1,
            tenants: state.records.values().cloned().collect(),
        };
        crate::snapshot::write_atomically(
            dir,
            FILE_NAME,
            &serde_json::to_vec_pretty(&file).expect("serializable"),
        )
    }
}

impl State {
    fn insert(&mut self, record: TenantRecord) {
        for t in &record.tokens {
            if self.auth_on && t.issued_without_auth {
                self.disowned.insert(t.sha256.clone());
            } else {
                self.by_hash.insert(t.sha256.clone(), record.name.clone());
            }
        }
        let tenant = Tenant {
            name: record.name.clone(),
            quotas: record.quotas.clone(),
            in_flight: Arc::new(Semaphore::new(record.quotas.max_concurrent_requests)),
            managing: Arc::new(Semaphore::new(record.quotas.max_concurrent_management)),
            changes: super::rate::Bucket::new(record.quotas.max_management_changes_per_minute),
            refusing: AtomicUsize::new(0),
        };
        self.live.insert(record.name.clone(), Arc::new(tenant));
        self.records.insert(record.name.clone(), record);
    }
}

/// How long a refusal waits with `ahead` of the tenant's refusals already waiting.
fn refusal_hold(ahead: usize, quota: usize) -> std::time::Duration {
    let times = (1 + ahead / quota.max(1)).min(MAX_REFUSAL_HOLD as usize);
    OVER_QUOTA_DELAY * times as u32
}

pub(crate) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes from the OS, hex, prefixed `fs_`.
pub(crate) fn new_secret() -> String {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the OS random source");
    format!("fs_{}", hex::encode(secret))
}

fn new_token(issued_without_auth: bool) -> (TokenRecord, String) {
    let token = new_secret();
    let record = TokenRecord {
        id: hex::encode(&Sha256::digest(token.as_bytes())[..4]),
        sha256: hash(&token),
        created: crate::rfc3339(std::time::SystemTime::now()),
        issued_without_auth,
    };
    (record, token)
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidTenantName(name.to_owned()))
    }
}

fn not_found(name: &str) -> Error {
    Error::TenantNotFound(name.to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn refusals_wait_longer_the_more_are_waiting_up_to_the_cap() {
        let ms = |ahead, quota| refusal_hold(ahead, quota).as_millis();
        assert_eq!(
            [ms(0, 16), ms(15, 16), ms(16, 16), ms(47, 16)],
            [250, 250, 500, 750]
        );
        assert_eq!(ms(usize::MAX, 16), 2000);
        assert_eq!(ms(1_000_000, 1), 2000);
        assert_eq!(
            ms(3, 0),
            1000,
            "a zero quota counts as one: no division by zero"
        );
    }

    #[tokio::test]
    async fn waiting_refusals_are_counted_and_uncounted_even_when_dropped() {
        let tenants = Tenants::open(None).unwrap();
        tenants.create("a", Quotas::default()).unwrap();
        let a = tenants.get("a").unwrap();
        let started = Instant::now();
        let mut waits: Vec<Duration> = futures_util::future::join_all((0..12).map(|_| async {
            a.hold_refusal(4).wait().await;
            started.elapsed()
        }))
        .await;
        waits.sort();
        assert!(waits[0] >= OVER_QUOTA_DELAY, "{waits:?}");
        assert!(
            waits[8] >= OVER_QUOTA_DELAY * 3,
            "8 were ahead of the last 4: {waits:?}"
        );
        assert_eq!(a.refusals_waiting(), 0);
        // A client that hangs up mid-wait drops the future: it no longer counts.
        let gone = tokio::time::timeout(Duration::from_millis(20), a.hold_refusal(1).wait()).await;
        assert!(gone.is_err());
        assert_eq!(a.refusals_waiting(), 0);
    }
}
