//! Who is calling: a bearer token (from an HTTP header or gRPC metadata; the edges only
//! extract it) becomes a [`Principal`]. Modes: off (no tokens; the single-tenant default
//! on loopback), tokens (tenants' tokens and the admin token), and TorchServe's
//! `key_file.json` (its inference and management keys), which may be combined with tenants.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Principal, Tenants, store::hash, store::new_secret};
use crate::Error;

/// Which API a request arrived on: keys and the metrics exemption depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Inference,
    Management,
    Metrics,
}

/// TorchServe's `key_file.json`: `{"management": {"key": …}, "inference": {"key": …},
/// "API": {"key": …}}` (other fields, such as expiration times, are ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyFile {
    pub management: Key,
    pub inference: Key,
    /// TorchServe's key for its token-refresh API (not served here: keys do not expire).
    #[serde(rename = "API", default, skip_serializing_if = "Option::is_none")]
    pub api: Option<Key>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Key {
    pub key: String,
}

impl KeyFile {
    /// Fresh random keys, as TorchServe makes at every start with token authorization on.
    pub fn generate() -> KeyFile {
        let key = || Key { key: new_secret() };
        KeyFile {
            management: key(),
            inference: key(),
            api: Some(key()),
        }
    }

    /// Writes the file with mode 0600, replacing an older one (TorchServe's keys of a
    /// previous run stop working).
    pub fn write(&self, path: &std::path::Path) -> Result<(), String> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot replace {}: {e}", path.display()));
            }
            _ => {}
        }
        let json = serde_json::to_vec_pretty(self).expect("serializable");
        super::create_private(path, &json)
    }
}

/// The authentication settings and stores, shared by every listener.
#[derive(Clone)]
pub struct Auth {
    pub tenants: Arc<Tenants>,
    /// sha256 of the admin token; `None` with `keys` also `None`: auth is off.
    pub admin_sha256: Option<String>,
    pub keys: Option<KeyFile>,
    /// Whether /metrics needs a token when auth is on.
    pub metrics_need_token: bool,
}

impl Auth {
    pub fn off() -> Auth {
        Auth {
            tenants: Arc::new(Tenants::open(None).expect("an in-memory store")),
            admin_sha256: None,
            keys: None,
            metrics_need_token: false,
        }
    }

    fn is_on(&self) -> bool {
        self.admin_sha256.is_some() || self.keys.is_some()
    }

    /// The principal for `token` on `api` (an admin may act for the tenant named by
    /// `acting_for`), or why not.
    pub fn principal(
        &self,
        api: Api,
        token: Option<&str>,
        acting_for: Option<&str>,
    ) -> Result<Principal, Error> {
        if !self.is_on() {
            return Ok(Principal::Open);
        }
        let Some(token) = token else {
            if api == Api::Metrics && !self.metrics_need_token {
                return Ok(Principal::Open);
            }
            return Err(Error::Unauthorized(
                "this server requires a token: send `Authorization: Bearer <token>`",
            ));
        };
        let digest = hash(token);
        if self.admin_sha256.as_deref() == Some(digest.as_str()) {
            let acting_for = match acting_for {
                None => None,
                Some(name) => Some(
                    self.tenants
                        .get(name)
                        .ok_or_else(|| Error::ActingForUnknownTenant(name.to_owned()))?,
                ),
            };
            return Ok(Principal::Admin { acting_for });
        }
        if let Some(keys) = &self.keys {
            let key = match api {
                Api::Inference => &keys.inference.key,
                Api::Management | Api::Metrics => &keys.management.key,
            };
            if hash(key) == digest {
                return Ok(Principal::Admin { acting_for: None });
            }
        }
        match self.tenants.authenticate(token) {
            Some(tenant) => Ok(Principal::Tenant(tenant)),
            None if self.tenants.is_disowned(token) => Err(Error::Unauthorized(
                "this token was issued while the server ran without auth, so it is not valid with auth on; ask the operator for a new one (POST /tenants/NAME/tokens) and revoke this one",
            )),
            None => Err(Error::Unauthorized(
                "the token is not valid here (unknown, revoked, or for another API); ask the operator for a token",
            )),
        }
    }
}
