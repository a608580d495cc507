//! `ferroserve tenant`: the admin's side of the tenant API, over HTTP to a running server's
//! management listener (the server owns tenants; this command only calls it). The admin
//! token is read from a file (default: the server's `<state_dir>/admin.token`) or
//! `FERROSERVE_ADMIN_TOKEN`, never from a flag, so it stays out of shell history.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct TenantArgs {
    /// The management API of the server.
    #[arg(
        long,
        env = "FERROSERVE_MANAGEMENT_URL",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    management: String,
    /// File holding the admin token.
    #[arg(long, default_value = "ferroserve-state/admin.token", global = true)]
    admin_token_file: PathBuf,
    #[command(subcommand)]
    command: TenantCommand,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant; prints its first token (shown only this once).
    Create {
        name: String,
        /// Quotas as JSON, e.g. '{"max_models": 5, "max_concurrent_requests": 8}'.
        #[arg(long)]
        quotas: Option<String>,
    },
    /// List tenants with their quotas and token ids.
    List,
    /// Remove a tenant, its tokens and its models.
    Remove { name: String },
    /// Issue another token for a tenant (rotation); printed once.
    Token { name: String },
    /// Revoke one of a tenant's tokens by id.
    Revoke { name: String, id: String },
}

pub fn run(args: TenantArgs) -> anyhow::Result<ExitCode> {
    let token = match std::env::var("FERROSERVE_ADMIN_TOKEN") {
        Ok(t) => t,
        Err(_) => std::fs::read_to_string(&args.admin_token_file).with_context(|| {
            format!(
                "reading the admin token from {} (or set FERROSERVE_ADMIN_TOKEN)",
                args.admin_token_file.display()
            )
        })?,
    };
    let base = args.management.trim_end_matches('/');
    let (method, path, body) = match args.command {
        TenantCommand::Create { name, quotas } => {
            let quotas: serde_json::Value = match quotas {
                Some(q) => serde_json::from_str(&q).context("--quotas is not JSON")?,
                None => serde_json::json!({}),
            };
            (
                "POST",
                "/tenants".to_owned(),
                serde_json::json!({ "name": name, "quotas": quotas }).to_string(),
            )
        }
        TenantCommand::List => ("GET", "/tenants".to_owned(), String::new()),
        TenantCommand::Remove { name } => ("DELETE", format!("/tenants/{name}"), String::new()),
        TenantCommand::Token { name } => ("POST", format!("/tenants/{name}/tokens"), String::new()),
        TenantCommand::Revoke { name, id } => (
            "DELETE",
            format!("/tenants/{name}/tokens/{id}"),
            String::new(),
        ),
    };
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("authorization", format!("Bearer {}", token.trim()))
        .header("content-type", "application/json")
        .body(body.into_bytes())?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .run(request)
        .with_context(|| format!("calling {base}; is the server running?"))?;
    let status = response.status();
    let text = response.body_mut().read_to_string()?;
    let pretty = serde_json::from_str::<serde_json::Value>(&text)
        .map(|v| serde_json::to_string_pretty(&v).expect("a value"))
        .unwrap_or(text);
    if status.is_success() {
        println!("{pretty}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{status}: {pretty}");
        Ok(ExitCode::from(1))
    }
}
