//! `ferroserve archive`: build a model archive with torch-model-archiver's flags, or
//! `ferroserve archive inspect FILE` to print its manifest, entries with hashes, and the
//! result of every check. The format and the checks are `ferroserve-archive`'s; this
//! module plugs in the sandbox as the handler-world check.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use ferroserve_archive::{ArchiveFormat, HandlerCheck, HandlerRejection, ReadLimits, WriteOptions};
use ferroserve_sandbox::{Limits, Sandbox, SandboxConfig};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    command: Option<ArchiveCommand>,
    #[command(flatten)]
    create: CreateArgs,
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// Validate an archive and print its manifest, entries (with sha256) and every check.
    Inspect { file: PathBuf },
}

/// The flags of torch-model-archiver, where they exist.
#[derive(Args)]
struct CreateArgs {
    /// The model's name (letters, digits, `_`, `-`, `.`); the archive is `<name>.mar`.
    #[arg(long, required = true)]
    model_name: Option<String>,
    /// The model's version, e.g. 1.0.
    #[arg(long, required = true)]
    version: Option<String>,
    /// The TorchScript file (saved with torch.jit.save).
    #[arg(long, required = true)]
    serialized_file: Option<PathBuf>,
    /// The handler component (`.wasm`, built for wasm32-wasip2).
    #[arg(long, required = true)]
    handler: Option<PathBuf>,
    /// Comma-separated extra files (labels, vocabularies) the handler reads at `/`.
    #[arg(long, value_delimiter = ',')]
    extra_files: Vec<PathBuf>,
    /// Model config YAML (TorchServe keys, ferroserve's under `ferroserve:`).
    #[arg(long)]
    config_file: Option<PathBuf>,
    /// Where to write the archive (made if missing).
    #[arg(long, default_value = ".")]
    export_path: PathBuf,
    /// Overwrite an existing archive of the same name.
    #[arg(long, short = 'f')]
    force: bool,
    #[arg(long, value_enum, default_value_t = Format::Default)]
    archive_format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A `.mar` zip.
    Default,
    /// A directory with the archive's layout.
    NoArchive,
}

/// The handler check backed by the real sandbox: compile and link against the world.
struct SandboxCheck(Sandbox);

impl HandlerCheck for SandboxCheck {
    fn check(&self, wasm: &[u8]) -> Result<(), HandlerRejection> {
        self.0
            .load("archive-handler", wasm, None, Limits::default())
            .map(|_| ())
            .map_err(|e| HandlerRejection {
                kind: e.kind().to_string(),
                message: e.to_string(),
            })
    }
    fn describe(&self) -> String {
        "compiled and linked against ferroserve:handler (0.2.0 or 0.1.0)".into()
    }
}

fn sandbox_check() -> anyhow::Result<SandboxCheck> {
    let sandbox = Sandbox::new(SandboxConfig {
        threads: 1,
        ..SandboxConfig::default()
    })?;
    Ok(SandboxCheck(sandbox))
}

pub fn run(args: ArchiveArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(ArchiveCommand::Inspect { file }) => inspect(file),
        None => create(args.create),
    }
}

fn inspect(file: PathBuf) -> anyhow::Result<ExitCode> {
    let f = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let checker = sandbox_check()?;
    let (checks, result) = ferroserve_archive::inspect_from(
        BufReader::with_capacity(256 << 10, f),
        &ReadLimits::default(),
        &checker,
    );
    if let Ok(info) = &result {
        println!(
            "manifest ({}):\n{}",
            ferroserve_archive::MANIFEST_PATH,
            info.manifest.to_json()
        );
        println!("entries:");
        for e in &info.entries {
            let sha = if e.is_dir { "-" } else { &e.sha256 };
            println!(
                "  {sha:64} {:>12} {:>12}  {}",
                e.size, e.compressed_size, e.name
            );
        }
    }
    println!("checks:");
    for c in &checks {
        println!("  ok   {}: {}", c.name, c.detail);
    }
    match result {
        Ok(_) => {
            println!("ok   {}: valid ferroserve archive", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("  FAIL {}: {e}", e.kind());
            Ok(ExitCode::from(1))
        }
    }
}

fn create(a: CreateArgs) -> anyhow::Result<ExitCode> {
    let opts = WriteOptions {
        model_name: a.model_name.context("--model-name is required")?,
        version: a.version.context("--version is required")?,
        serialized_file: a.serialized_file.context("--serialized-file is required")?,
        handler: a.handler.context("--handler is required")?,
        extra_files: a.extra_files,
        config_file: a.config_file,
        export_path: a.export_path,
        force: a.force,
        format: match a.archive_format {
            Format::Default => ArchiveFormat::Default,
            Format::NoArchive => ArchiveFormat::NoArchive,
        },
    };
    // Made when missing, as a build step's output folder usually is.
    std::fs::create_dir_all(&opts.export_path)
        .with_context(|| format!("creating --export-path {}", opts.export_path.display()))?;
    let checker = sandbox_check()?;
    let wasm = std::fs::read(&opts.handler)
        .with_context(|| format!("reading {}", opts.handler.display()))?;
    if let Err(r) = checker.check(&wasm) {
        println!(
            "FAIL {}: {} ({})",
            opts.handler.display(),
            r.message,
            r.kind
        );
        return Ok(ExitCode::from(1));
    }
    let (path, _) = match ferroserve_archive::write_archive(&opts) {
        Ok(done) => done,
        Err(e) => {
            println!("FAIL {}: {e}", e.kind());
            return Ok(ExitCode::from(1));
        }
    };
    if opts.format == ArchiveFormat::Default
        && let Err(e) = ferroserve_archive::read_archive(&path, &ReadLimits::default(), &checker)
    {
        let _ = std::fs::remove_file(&path);
        println!(
            "FAIL {}: the archive written does not validate: {e}",
            e.kind()
        );
        return Ok(ExitCode::from(1));
    }
    println!("ok   wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}
