//! The request-decoding fuzz targets of ferroserve's REST edge, as plain functions: each
//! reads a fuzzer's bytes into one or more HTTP requests (`targets.rs` has the formats),
//! sends them through the real routers of the whole app in process (`server.rs`: the fake
//! runtime, no libtorch, no sockets) and checks the property every answer must have
//! (`check.rs`: no hang, no 5xx for client garbage, errors in the protocol's own shape,
//! no server paths). The cargo-fuzz binaries in `fuzz/` call [`run`] and keep what it
//! finds (`record.rs`); this crate's replay test sends the committed seeds and
//! reproducers through the same code on stable Rust, so CI needs no fuzzer.
//!
//! Targets: [`Target::Multipart`] (`POST /predictions/{m}` with multipart/form-data),
//! [`Target::KserveJson`] (`POST /v2/models/{m}/infer`), [`Target::KserveBinary`] (the
//! binary tensor extension) and [`Target::Query`] (query parameters of the management API
//! and of `/predictions`, and JSON registration bodies).

pub mod check;
pub mod record;
pub mod server;
mod targets;

pub use check::Finding;
pub use record::record;
pub use server::Server;

/// One fuzz target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Multipart,
    KserveJson,
    KserveBinary,
    Query,
}

impl Target {
    pub const ALL: [Target; 4] = [
        Target::Multipart,
        Target::KserveJson,
        Target::KserveBinary,
        Target::Query,
    ];

    /// Its name: the fuzz binary's and its corpus directory's.
    pub fn name(self) -> &'static str {
        match self {
            Target::Multipart => "multipart",
            Target::KserveJson => "kserve_json",
            Target::KserveBinary => "kserve_binary",
            Target::Query => "query",
        }
    }
}

/// What one input came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every request answered with the property; their statuses, in order.
    Pass(Vec<u16>),
    /// Nothing sent (see `targets::Skip`).
    Skipped(&'static str),
    /// The first answer without the property.
    Found(Finding),
}

/// Sends `data` as `target`'s requests and checks every answer.
pub fn run(target: Target, data: &[u8]) -> Verdict {
    let cases = match target {
        Target::Multipart => targets::multipart(data),
        Target::KserveJson => targets::kserve_json(data),
        Target::KserveBinary => targets::kserve_binary(data),
        Target::Query => targets::query(data),
    };
    let cases = match cases {
        Ok(cases) => cases,
        Err(why) => return Verdict::Skipped(why),
    };
    let server = Server::get();
    let mut statuses = Vec::new();
    let mut verdict = None;
    for targets::Case {
        on,
        method,
        path,
        raw,
        request,
    } in cases
    {
        let answer = server.send(on, request);
        let sent = check::Sent {
            method: &method,
            path: &path,
            raw: &raw,
        };
        if let Err(finding) = check::check(&sent, answer.as_ref(), &server.private_paths) {
            verdict = Some(Verdict::Found(finding));
            break;
        }
        statuses.push(answer.map_or(0, |a| a.status.as_u16()));
    }
    if target == Target::Query {
        server.reset();
    }
    verdict.unwrap_or(Verdict::Pass(statuses))
}
