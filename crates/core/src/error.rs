//! The serving core's one error type. Every variant has a stable [`Error::kind`] (the
//! `type` clients have always seen, e.g. `ModelNotFoundException`) and a [`Class`] that a
//! protocol edge maps to its own status (HTTP in `ferroserve-http`'s `error.rs`, gRPC next).
//! Messages say what went wrong and what to do; no status code is decided here.

use std::borrow::Cow;
use std::time::Duration;

use ferroserve_archive::ArchiveError;
use ferroserve_batcher::{BatchError, Fault};
use ferroserve_sandbox::SandboxError;

use crate::FetchError;

/// What kind of failure, independent of any protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// The request (or the archive it names) is wrong; sending it again won't help.
    BadRequest,
    /// No credentials, or credentials this server does not accept.
    Unauthenticated,
    /// Valid credentials, not allowed to do this.
    Forbidden,
    NotFound,
    /// The state does not allow it (exists already, still in use).
    Conflict,
    /// Larger than a server limit.
    TooLarge,
    /// Over one of the tenant's quotas.
    Quota,
    /// The server is full right now; retry later.
    Overload,
    Timeout,
    /// The caller went away.
    Cancelled,
    /// Something the server depends on (a URL it fetches from) failed.
    Upstream,
    Internal,
}

impl Class {
    /// For logs and the audit log.
    pub fn name(self) -> &'static str {
        use Class as C;
        match self {
            C::BadRequest => "bad_request",
            C::Unauthenticated => "unauthenticated",
            C::Forbidden => "forbidden",
            C::NotFound => "not_found",
            C::Conflict => "conflict",
            C::TooLarge => "too_large",
            C::Quota => "quota",
            C::Overload => "overload",
            C::Timeout => "timeout",
            C::Cancelled => "cancelled",
            C::Upstream => "upstream",
            C::Internal => "internal",
        }
    }

    /// The caller's doing (counted as TorchServe's 4XX in metrics) rather than the server's.
    pub fn is_client_fault(self) -> bool {
        use Class as C;
        matches!(
            self,
            C::BadRequest
                | C::Unauthenticated
                | C::Forbidden
                | C::NotFound
                | C::Conflict
                | C::TooLarge
                | C::Quota
                | C::Cancelled
        )
    }
}

/// How long an overloaded server asks clients to wait.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Model not found: {0}; GET /models lists the registered models")]
    ModelNotFound(String),
    #[error(
        "Model version {version} does not exist for model {name}; GET /models/{name}/all lists its versions"
    )]
    VersionNotFound { name: String, version: String },
    #[error(
        "Model version {version} is already registered for model {name}; unregister it first or choose another version"
    )]
    VersionExists { name: String, version: String },
    #[error(
        "Version {version} is the default of model {name} and other versions remain; PUT /models/{name}/{{version}}/set-default to another version first"
    )]
    DefaultVersionInUse { name: String, version: String },
    #[error("{0}")]
    ModelLoad(String),
    #[error("{field} = {value} ({origin}) is out of range: expected {min}..={max}{}", setting.map(|s| format!(" (this server's {s})")).unwrap_or_default())]
    OutOfRange {
        field: String,
        value: String,
        origin: String,
        min: u64,
        max: u64,
        setting: Option<&'static str>,
    },
    #[error(
        "{what} {name} is not valid: use 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit"
    )]
    InvalidModelName { what: &'static str, name: String },
    #[error(
        "{asked}: {scope} has {in_use} of its {limit} workers in use ({setting}); scale other models down or ask the operator to raise it"
    )]
    WorkerBudget {
        scope: String,
        setting: &'static str,
        limit: u64,
        in_use: u64,
        asked: String,
    },
    #[error(
        "the archive asks for a handler deadline of {asked_ms} ms; this server allows at most {max_ms} ms (ferroserve.handlerLimits.deadlineMs)"
    )]
    HandlerLimitTooHigh { asked_ms: u64, max_ms: u128 },

    #[error(
        "cannot load {0:?}: this server has no model store; start it with --model-store DIR, or upload the archive as the request body"
    )]
    ModelStoreNotConfigured(String),
    #[error(
        "{0:?} is not a file name in the model store; name a .mar file in it, without directories"
    )]
    InvalidArchiveName(String),
    /// The store's path is the operator's business: the message names only the file.
    #[error("the model store has no file {name}; copy the archive there or upload it")]
    ArchiveNotFound { name: String },
    #[error(
        "{0} is not under any URL prefix this server allows (allowed_urls); upload the archive in the request body or ask the operator to allow its prefix"
    )]
    UrlNotAllowed(String),
    #[error("{url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "{0}: only http://, https:// and s3:// URLs can be fetched; upload the archive instead"
    )]
    UnsupportedUrlScheme(String),
    #[error(
        "{url} redirects to {to}, which is not under any URL prefix this server allows (allowed_urls); register the final URL if it is allowed, or ask the operator to allow its prefix"
    )]
    RedirectNotAllowed { url: String, to: String },
    #[error(
        "{0}: this server cannot fetch URLs (it was built without a fetcher); upload the archive in the request body instead"
    )]
    FetchUnavailable(String),
    #[error("fetching {url} failed: {problem}")]
    Fetch { url: String, problem: FetchError },
    #[error("reading the uploaded archive failed: {0}; send it again")]
    UploadFailed(String),
    #[error(
        "no archive given: pass ?url=NAME.mar (a file in the model store) or send the .mar as the request body"
    )]
    MissingArchive,
    #[error("the archive is larger than this server's limit of {0} bytes (max_upload_size)")]
    UploadTooLarge(u64),
    /// Writing an archive or a model's files under the state directory failed.
    #[error("{0}")]
    ArchiveStore(String),
    #[error("{0}")]
    ModelStore(String),
    #[error(
        "the change was applied but could not be saved to {path}: {reason}; it will be lost at restart unless the state directory becomes writable"
    )]
    StateWriteFailed { path: String, reason: String },

    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no tenant {0}; GET /tenants lists them")]
    TenantNotFound(String),
    #[error("no tenant {0} (from x-ferroserve-tenant); GET /tenants lists them")]
    ActingForUnknownTenant(String),
    #[error("tenant {0} exists; DELETE /tenants/{0} first or pick another name")]
    TenantExists(String),
    #[error("tenant name {0:?}: use 1-64 letters, digits, '-' or '_'")]
    InvalidTenantName(String),
    #[error("tenant {tenant} has no token {id}; GET /tenants/{tenant} lists its token ids")]
    TokenNotFound { tenant: String, id: String },
    #[error("{what}: over the tenant's quota {quota} = {limit}; ask the operator to raise it")]
    QuotaExceeded {
        quota: &'static str,
        limit: u64,
        what: String,
    },
    /// A management change over the tenant's rate; `retry_after` is `None` when its
    /// rate is 0 (changes are the operator's alone).
    #[error(
        "tenant {tenant} made more management changes (registrations, scale, unregister, set-default) than its quota max_management_changes_per_minute = {limit} allows{}; ask the operator to raise it",
        retry_after.map_or(String::new(), |w| format!(", retry in {} s", w.as_secs().max(1)))
    )]
    ChangeRate {
        tenant: String,
        limit: u64,
        retry_after: Option<Duration>,
    },

    /// Tensors sent for inference (KServe v2) that the model cannot take.
    #[error("{0}")]
    InvalidTensors(String),
    /// Outputs a model returned that cannot be put back into one response.
    #[error("{0}")]
    BadModelOutput(String),
    #[error("{0}")]
    Internal(String),

    // Start-up: the server cannot begin serving.
    #[error("state directory {path}: {reason}; pass a writable --state-dir")]
    StateDir { path: String, reason: String },
    #[error("the wasm sandbox could not start: {0}")]
    SandboxStart(String),
    #[error("{0}")]
    Setup(String),
    #[error("start-up model {spec:?}: {message}")]
    StartupModel { spec: String, message: String },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl Error {
    /// A stable identifier of what went wrong (TorchServe's `type`).
    pub fn kind(&self) -> Cow<'static, str> {
        use Error as E;
        Cow::Borrowed(match self {
            E::ModelNotFound(_) => "ModelNotFoundException",
            E::VersionNotFound { .. } => "ModelVersionNotFoundException",
            E::VersionExists { .. } => "ConflictStatusException",
            E::DefaultVersionInUse { .. } => "DefaultVersionInUse",
            E::ModelLoad(_) => "ModelLoadError",
            E::OutOfRange { .. } => "OutOfRange",
            E::InvalidModelName { .. } => "InvalidModelName",
            E::WorkerBudget { .. } => "WorkerBudgetExceeded",
            E::HandlerLimitTooHigh { .. } => "HandlerLimitTooHigh",
            E::ModelStoreNotConfigured(_) => "ModelStoreNotConfigured",
            E::InvalidArchiveName(_) => "InvalidArchiveName",
            E::ArchiveNotFound { .. } => "ArchiveNotFound",
            E::UrlNotAllowed(_) => "UrlNotAllowed",
            E::InvalidUrl { .. } => "InvalidUrl",
            E::UnsupportedUrlScheme(_) => "UnsupportedUrlScheme",
            E::RedirectNotAllowed { .. } => "UrlNotAllowed",
            E::FetchUnavailable(_) => "UrlFetchUnavailable",
            E::Fetch { problem, .. } => problem.kind(),
            E::UploadFailed(_) => "UploadFailed",
            E::MissingArchive => "MissingArchive",
            E::UploadTooLarge(_) => "ArchiveTooLarge",
            E::ArchiveStore(_) => "ArchiveStoreError",
            E::ModelStore(_) => "ModelStoreError",
            E::StateWriteFailed { .. } => "StateWriteFailed",
            E::Unauthorized(_) => "Unauthorized",
            E::Forbidden(_) => "Forbidden",
            E::TenantNotFound(_) | E::ActingForUnknownTenant(_) => "TenantNotFound",
            E::TenantExists(_) => "TenantExists",
            E::InvalidTenantName(_) => "InvalidTenantName",
            E::TokenNotFound { .. } => "TokenNotFound",
            E::QuotaExceeded { .. } | E::ChangeRate { .. } => "QuotaExceeded",
            E::InvalidTensors(_) => "InvalidInferenceRequest",
            E::BadModelOutput(_) => "ModelBadOutput",
            E::Internal(_) => "InternalServerException",
            E::StateDir { .. } | E::SandboxStart(_) | E::Setup(_) | E::StartupModel { .. } => {
                "StartFailed"
            }
            E::Sandbox(e) => e.kind(),
            E::Batch(e) => batch_kind(e),
            E::Archive(e) => return Cow::Owned(e.kind()),
        })
    }

    pub fn class(&self) -> Class {
        use Class as C;
        use Error as E;
        match self {
            E::ModelNotFound(_)
            | E::VersionNotFound { .. }
            | E::ArchiveNotFound { .. }
            | E::TenantNotFound(_)
            | E::ActingForUnknownTenant(_)
            | E::TokenNotFound { .. } => C::NotFound,
            E::VersionExists { .. } | E::TenantExists(_) => C::Conflict,
            // TorchServe answers 403 (InvalidModelVersionException) and its clients know it.
            E::DefaultVersionInUse { .. } => C::Forbidden,
            E::ModelLoad(_)
            | E::OutOfRange { .. }
            | E::InvalidModelName { .. }
            | E::HandlerLimitTooHigh { .. }
            | E::ModelStoreNotConfigured(_)
            | E::InvalidArchiveName(_)
            | E::InvalidUrl { .. }
            | E::UnsupportedUrlScheme(_)
            | E::FetchUnavailable(_)
            | E::UploadFailed(_)
            | E::MissingArchive
            | E::InvalidTensors(_)
            | E::InvalidTenantName(_) => C::BadRequest,
            E::UrlNotAllowed(_) | E::RedirectNotAllowed { .. } | E::Forbidden(_) => C::Forbidden,
            E::Unauthorized(_) => C::Unauthenticated,
            E::Fetch { problem, .. } => problem.class(),
            E::UploadTooLarge(_) => C::TooLarge,
            E::QuotaExceeded { .. } | E::ChangeRate { .. } => C::Quota,
            // The tenant's share is like a quota; the server's whole budget is a full server.
            E::WorkerBudget { setting, .. } if *setting == "limit_workers_total" => C::Overload,
            E::WorkerBudget { .. } => C::Quota,
            E::ArchiveStore(_)
            | E::ModelStore(_)
            | E::StateWriteFailed { .. }
            | E::BadModelOutput(_)
            | E::Internal(_)
            | E::StateDir { .. }
            | E::SandboxStart(_)
            | E::Setup(_)
            | E::StartupModel { .. } => C::Internal,
            E::Sandbox(e) => sandbox_class(e),
            E::Batch(e) => batch_class(e),
            E::Archive(e) => archive_class(e),
        }
    }

    /// How long the caller should wait before trying again, when waiting helps.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::QuotaExceeded {
                quota: "max_concurrent_requests" | "max_concurrent_management",
                ..
            } => Some(RETRY_AFTER),
            Error::ChangeRate { retry_after, .. } => *retry_after,
            _ if self.class() == Class::Overload => Some(RETRY_AFTER),
            _ => None,
        }
    }

    /// 429 naming the quota and its limit.
    pub fn quota(quota: &'static str, limit: u64, what: impl Into<String>) -> Error {
        Error::QuotaExceeded {
            quota,
            limit,
            what: what.into(),
        }
    }
}

fn sandbox_class(e: &SandboxError) -> Class {
    use SandboxError as S;
    match e {
        // The client's input, or an archive the client uploaded.
        S::BadInput(_)
        | S::NotAComponent(_)
        | S::Compile(_)
        | S::WorldMismatch(_)
        | S::LimitTooHigh { .. }
        // The component uploaded is over a compile limit: the client's archive.
        | S::CompileLimit { .. } => Class::BadRequest,
        S::DeadlineExceeded { .. } => Class::Timeout,
        S::PoolExhausted { .. } => Class::Overload,
        S::FilesDir { .. }
        | S::Engine(_)
        | S::HandlerFailed(_)
        | S::MemoryLimit { .. }
        | S::TooManyResources { .. }
        | S::Panic { .. }
        | S::Trap { .. }
        | S::OutputTooLarge { .. }
        | S::MalformedTensor(_)
        | S::InvalidResponse(_) => Class::Internal,
    }
}

fn batch_kind(e: &BatchError) -> &'static str {
    use BatchError as B;
    match e {
        B::Overloaded { .. } => "ModelQueueFull",
        B::ShuttingDown => "ModelShuttingDown",
        B::Timeout { .. } => "ModelRequestTimeout",
        B::Cancelled => "RequestCancelled",
        B::Run(_) => "ModelForwardError",
        B::Process(Fault::Crashed, _) => "ModelProcessCrashed",
        B::Process(Fault::Stopped, _) => "ModelForwardTimeout",
        B::Process(Fault::Unavailable | Fault::Model, _) => "ModelUnavailable",
        B::WorkerPanicked(_) => "ModelWorkerPanicked",
        B::BadOutput(_) => "ModelBadOutput",
        B::BadInput(_) => "ModelBadInput",
        B::BadSettings(_) => "InvalidWorkerSettings",
        B::Start(_) => "ModelStartFailed",
    }
}

fn batch_class(e: &BatchError) -> Class {
    use BatchError as B;
    match e {
        B::Overloaded { .. } | B::ShuttingDown => Class::Overload,
        B::Timeout { .. } | B::Process(Fault::Stopped, _) => Class::Timeout,
        B::Process(Fault::Unavailable, _) => Class::Overload,
        B::Process(Fault::Crashed | Fault::Model, _) => Class::Internal,
        B::Cancelled => Class::Cancelled,
        B::BadInput(_) | B::BadSettings(_) => Class::BadRequest,
        B::Run(_) | B::WorkerPanicked(_) | B::BadOutput(_) | B::Start(_) => Class::Internal,
    }
}

fn archive_class(e: &ArchiveError) -> Class {
    use ArchiveError as A;
    match e {
        A::ArchiveTooLarge { .. } => Class::TooLarge,
        A::Io(_) | A::Output { .. } => Class::Internal,
        _ => Class::BadRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_outcomes_keep_their_kinds_and_get_a_class() {
        let bad = Error::from(SandboxError::BadInput("send a PNG".into()));
        assert_eq!(
            (&*bad.kind(), bad.class(), bad.to_string().as_str()),
            ("HandlerBadInput", Class::BadRequest, "send a PNG")
        );
        let slow = Error::from(SandboxError::DeadlineExceeded {
            deadline: Duration::from_millis(50),
        });
        assert_eq!(
            (&*slow.kind(), slow.class()),
            ("HandlerDeadlineExceeded", Class::Timeout)
        );
        let refused = Error::from(SandboxError::CompileLimit {
            limit: ferroserve_sandbox::CompileLimit::FunctionSize,
            max: 1 << 20,
            found: Some(7 << 20),
        });
        assert_eq!(
            (&*refused.kind(), refused.class()),
            ("HandlerCompileLimitExceeded", Class::BadRequest)
        );
        let full = Error::from(BatchError::Overloaded { capacity: 8 });
        assert_eq!(
            (&*full.kind(), full.class(), full.retry_after()),
            ("ModelQueueFull", Class::Overload, Some(RETRY_AFTER))
        );
        let failed = Error::from(BatchError::Run("RuntimeError: mat1 and mat2".into()));
        assert_eq!(failed.class(), Class::Internal);
        assert!(failed.to_string().contains("mat1 and mat2"));
        assert_eq!(Error::from(BatchError::Cancelled).class(), Class::Cancelled);
    }

    #[test]
    fn only_the_in_flight_quotas_ask_to_retry() {
        let busy = Error::quota("max_concurrent_requests", 4, "tenant a has 4 requests");
        assert_eq!(busy.retry_after(), Some(RETRY_AFTER));
        let managing = Error::quota("max_concurrent_management", 4, "tenant a has 4");
        assert_eq!(managing.retry_after(), Some(RETRY_AFTER));
        let full = Error::quota("max_models", 2, "the tenant already has 2 models");
        assert_eq!(full.retry_after(), None);
        assert_eq!(
            full.to_string(),
            "the tenant already has 2 models: over the tenant's quota max_models = 2; ask the operator to raise it"
        );
    }

    #[test]
    fn client_faults_are_told_apart_from_the_servers() {
        assert!(Class::NotFound.is_client_fault());
        assert!(Class::Quota.is_client_fault());
        assert!(!Class::Overload.is_client_fault());
        assert!(!Class::Upstream.is_client_fault());
    }
}
