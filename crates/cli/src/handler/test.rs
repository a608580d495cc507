//! `ferroserve handler test`: one request through preprocess → the real model (libtorch,
//! in this process, on the CPU) → postprocess, without a server, printing the tensors at
//! each step. Batching is as the server does it for a batch of one: inputs gain a leading
//! dimension of 1, outputs lose it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ferroserve_batcher::BatchRunner;
use ferroserve_sandbox::{HandlerRequest, Limits, Sandbox, SandboxError};
use ferroserve_tensor::{DType, Tensor, split_samples, stack_samples};
use ferroserve_torch::{Device, ModelConfig, TorchModel};

pub struct TestArgs {
    pub component: PathBuf,
    pub model: PathBuf,
    pub input: PathBuf,
    pub content_type: Option<String>,
    pub files: Option<PathBuf>,
    pub params: Vec<(String, String)>,
    pub limits: Limits,
}

pub fn run(a: TestArgs, sandbox: &Sandbox) -> anyhow::Result<ExitCode> {
    let wasm = std::fs::read(&a.component).with_context(|| {
        format!(
            "reading {} (run `ferroserve handler build` first)",
            a.component.display()
        )
    })?;
    let handler = match sandbox.load("handler", &wasm, a.files.as_deref(), a.limits) {
        Ok(h) => h,
        Err(e) => return fail("loading the handler", &e),
    };
    println!(
        "handler  {} ({} runtime, ferroserve:handler@{}, {} bytes)",
        a.component.display(),
        handler.runtime().name(),
        handler.world_version(),
        wasm.len()
    );
    let body = std::fs::read(&a.input).with_context(|| format!("reading {}", a.input.display()))?;
    let content_type = a.content_type.or_else(|| guess_content_type(&a.input));
    println!(
        "request  {} ({} bytes, {})",
        a.input.display(),
        body.len(),
        content_type.as_deref().unwrap_or("no content type")
    );
    let request = HandlerRequest {
        body: body.into(),
        content_type,
        parameters: a.params,
        ..HandlerRequest::default()
    };
    let (prepared, report) = handler.preprocess_blocking(request);
    print_output("preprocess", &report);
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => return fail("preprocess", &e),
    };
    println!(
        "preprocess ok in {:?}: {} input tensor(s), {} context bytes",
        report.elapsed,
        prepared.inputs.len(),
        prepared.context.len()
    );
    for t in &prepared.inputs {
        println!("  in  {}", describe(t));
    }
    let batch_in =
        stack_samples(vec![prepared.inputs]).context("stacking the inputs into a batch of one")?;
    let shapes =
        |ts: &[Tensor]| -> Vec<Vec<u64>> { ts.iter().map(|t| t.shape().to_vec()).collect() };
    println!(
        "model    {} forward(inputs of shapes {:?})",
        a.model.display(),
        shapes(&batch_in)
    );
    let model = TorchModel::load(&a.model, ModelConfig::on(Device::Cpu))
        .with_context(|| format!("loading the model {}", a.model.display()))?;
    let started = std::time::Instant::now();
    let outputs = match model.run(batch_in) {
        Ok(o) => o,
        Err(e) => {
            println!(
                "FAIL model: {e} (do the input names, dtypes and shapes above match what the model's forward takes, with the batch dimension first?)"
            );
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "model    ok in {:?}: outputs of shapes {:?}, batch dimension removed below",
        started.elapsed(),
        shapes(&outputs)
    );
    let mut samples = split_samples(outputs, 1).context("splitting the outputs")?;
    let outputs = samples.pop().unwrap_or_default();
    for t in &outputs {
        println!("  out {}", describe(t));
    }
    let (response, report) = handler.postprocess_blocking(&outputs, &prepared.context);
    print_output("postprocess", &report);
    let response = match response {
        Ok(r) => r,
        Err(e) => return fail("postprocess", &e),
    };
    println!(
        "postprocess ok in {:?}: status {}, {}",
        report.elapsed, response.status, response.content_type
    );
    for (name, value) in &response.headers {
        println!("  header {name}: {value}");
    }
    println!("{}", String::from_utf8_lossy(&response.body));
    Ok(ExitCode::SUCCESS)
}

fn fail(step: &str, e: &SandboxError) -> anyhow::Result<ExitCode> {
    println!("FAIL {step}: {e} ({})", e.kind());
    Ok(ExitCode::from(1))
}

fn print_output(step: &str, report: &ferroserve_sandbox::CallReport) {
    for (stream, text) in [("stdout", &report.stdout), ("stderr", &report.stderr)] {
        for line in text.lines() {
            println!("  {step} {stream}: {line}");
        }
    }
}

/// `name: f32 [1, 8, 8] = [0.0, 0.25, ...]` with the first values.
fn describe(t: &Tensor) -> String {
    const SHOW: usize = 8;
    let values: Vec<String> = match t.dtype() {
        DType::F32 => t
            .to_f32()
            .unwrap_or_default()
            .iter()
            .take(SHOW)
            .map(|v| format!("{v:.4}"))
            .collect(),
        DType::F64 => chunks::<8>(t)
            .map(|b| format!("{:.4}", f64::from_le_bytes(b)))
            .collect(),
        DType::I64 => chunks::<8>(t)
            .map(|b| i64::from_le_bytes(b).to_string())
            .collect(),
        DType::I32 => chunks::<4>(t)
            .map(|b| i32::from_le_bytes(b).to_string())
            .collect(),
        DType::U8 | DType::Bool => t.data().iter().take(SHOW).map(u8::to_string).collect(),
        DType::I8 => t
            .data()
            .iter()
            .take(SHOW)
            .map(|b| (*b as i8).to_string())
            .collect(),
        DType::F16 | DType::BF16 => chunks::<2>(t)
            .map(|b| format!("0x{:04x}", u16::from_le_bytes(b)))
            .collect(),
    };
    let more = if t.numel() as usize > SHOW {
        ", ..."
    } else {
        ""
    };
    format!(
        "{:?}: {} {:?} = [{}{more}]",
        t.name(),
        t.dtype(),
        t.shape(),
        values.join(", ")
    )
}

fn chunks<const N: usize>(t: &Tensor) -> impl Iterator<Item = [u8; N]> + '_ {
    t.data()
        .chunks_exact(N)
        .take(8)
        .map(|c| c.try_into().expect("N bytes"))
}

fn guess_content_type(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(
        match ext.as_str() {
            "json" => "application/json",
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "txt" => "text/plain",
            _ => "application/octet-stream",
        }
        .to_string(),
    )
}
