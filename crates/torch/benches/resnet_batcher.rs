//! ResNet-18 throughput through batcher + runtime against the raw forward, in the same run.
//!
//! `cargo bench -p ferroserve-torch --bench resnet_batcher`
//!
//! - `raw`: [`TorchModel::forward`] on a batch of 8 images, in a loop on one long-lived
//!   thread (see `main` on why not a fresh one).
//! - `batched`: 8 tokio tasks each submit one image at a time (no batch dim) to a
//!   [`Batcher`] over the same model: `batch_size` 8, 1 worker.
//!
//! Both run with 2 intra-op threads, on `cuda:0` when a GPU exists (else the CPU, saying
//! so). After an uncounted warm-up round 0, the two alternate for `ROUNDS` rounds of
//! `FERROSERVE_BENCH_SECS` seconds (default 4) each, so drift in the machine's load hits
//! both; the medians are compared. Output lines are `key=value` pairs, starting
//! `bench=resnet_batcher`; `minor_faults_per_image` is the whole process's page faults over
//! the round. The target is `ratio` ≥ 0.95.
//! Without `--bench` (`cargo test --all-targets`) it only checks that both paths run.
//!
//! # The allocator
//! libtorch allocates ResNet-18's activations (~26 MB each at batch 8) with glibc's malloc.
//! A thread on one of glibc's per-thread arenas gives whole 64 MB heaps back and faults them
//! in again (~1000 page faults per image, ~15 % of the throughput); a thread on the main
//! arena does not, and which arena a thread gets is luck. That would decide the ratio, not
//! the batcher, so the bench first pins glibc to one arena and fixed mmap/trim thresholds
//! (`mallopt`, before any thread starts). `FERROSERVE_BENCH_MALLOC=default` skips that, to
//! see the default behaviour (`minor_faults_per_image` shows which case a round hit).

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use ferroserve_batcher::{Batcher, BatcherConfig};
use ferroserve_tensor::{DType, Tensor};
use ferroserve_torch::test_models::TestModels;
use ferroserve_torch::{Device, InputSpec, ModelConfig, TorchModel};

const BATCH: usize = 8;
const THREADS: usize = 2;
const ROUNDS: usize = 3;

fn main() {
    let malloc = if std::env::var("FERROSERVE_BENCH_MALLOC").is_ok_and(|v| v == "default") {
        "default"
    } else if pin_glibc_malloc() {
        "one_arena"
    } else {
        "default_unpinnable"
    };
    let measuring = std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("FERROSERVE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let round = Duration::from_secs_f64(if measuring { secs } else { 0.0 });
    let device = if ferroserve_torch::cuda_available() {
        Device::Cuda(0)
    } else {
        eprintln!("resnet_batcher: no CUDA device, measuring on the CPU");
        Device::Cpu
    };
    let models = TestModels::get();
    let (shape, values) = models.array("resnet18.input");
    let image_len = values.len() / BATCH;
    let batch = Tensor::from_f32("image", shape.clone(), &values).unwrap();
    let images: Vec<Tensor> = values
        .chunks(image_len)
        .map(|v| Tensor::from_f32("image", shape[1..].to_vec(), v).unwrap())
        .collect();
    let config = ModelConfig::on(device)
        .with_intra_op_threads(THREADS)
        .with_warmup(vec![InputSpec::new("image", DType::F32, shape.clone())]);
    let model = Arc::new(TorchModel::load(models.model("resnet18"), config).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let batcher_config = BatcherConfig::new("resnet18")
        .batch_size(BATCH)
        .max_batch_delay(Duration::from_millis(5))
        .capacity(64)
        .workers(1);
    let batcher = runtime.block_on(async { Batcher::spawn(batcher_config, model.clone()) });
    let batcher = Arc::new(batcher.unwrap());
    println!(
        "bench=resnet_batcher setup device={device} intra_op_threads={THREADS} batch_size={BATCH} \
         concurrency={BATCH} workers=1 round_s={} malloc={malloc} loadavg_start={}",
        round.as_secs_f64(),
        loadavg()
    );

    // The raw loop runs on one long-lived thread, as a batcher worker does: a fresh thread
    // (or the main one) gets a malloc arena that page-faults ~1000 times per image on
    // ResNet-18's activations, which would flatter the batcher by ~10 %.
    let (to_raw, raw_rx) = mpsc::channel::<Duration>();
    let (raw_tx, from_raw) = mpsc::channel();
    let raw_thread = {
        let (model, batch) = (model.clone(), batch.clone());
        std::thread::spawn(move || {
            for round in raw_rx {
                raw_tx.send(run_raw(&model, &batch, round)).unwrap();
            }
        })
    };
    let (mut raw, mut batched) = (Vec::new(), Vec::new());
    // Round 0 warms both paths up (allocator arenas, OpenMP teams) and is not counted.
    for r in 0..=(if measuring { ROUNDS } else { 1 }) {
        let faults = minor_faults();
        to_raw.send(if r == 0 { round / 4 } else { round }).unwrap();
        let (n, elapsed) = from_raw.recv().unwrap();
        let per_s = report("raw", r, n, elapsed, minor_faults() - faults);
        let (before, faults) = (batcher.stats(), minor_faults());
        let time = if r == 0 { round / 4 } else { round };
        let (n, elapsed) = runtime.block_on(run_batched(&batcher, &images, time));
        let (after, faults) = (batcher.stats(), minor_faults() - faults);
        let batched_per_s = report("batched", r, n, elapsed, faults);
        let mean_batch = (after.requests_run - before.requests_run) as f64
            / (after.batches - before.batches).max(1) as f64;
        println!("bench=resnet_batcher mode=batched round={r} mean_batch={mean_batch:.2}");
        if r > 0 {
            raw.push(per_s);
            batched.push(batched_per_s);
        }
    }
    drop(to_raw);
    raw_thread.join().unwrap();
    let (raw, batched) = (median(raw), median(batched));
    if !measuring {
        println!("bench=resnet_batcher smoke_only=true (run with --bench to measure)");
    }
    println!(
        "bench=resnet_batcher summary raw_images_per_s={raw:.2} batched_images_per_s={batched:.2} \
         ratio={:.4} target=0.95 loadavg_end={}",
        batched / raw,
        loadavg()
    );
    runtime.block_on(batcher.shutdown());
}

/// Forwards of the batch of 8 until `round` has passed (at least one). Returns images, time.
fn run_raw(model: &TorchModel, batch: &Tensor, round: Duration) -> (usize, Duration) {
    let inputs = [batch.clone()];
    let start = Instant::now();
    let mut n = 0;
    while n == 0 || start.elapsed() < round {
        model.forward(&inputs).unwrap();
        n += BATCH;
    }
    (n, start.elapsed())
}

/// 8 tasks submitting one image each, in a loop, until `round` has passed (each submits at
/// least once). Returns images answered and the time until the last answer.
async fn run_batched(b: &Arc<Batcher>, images: &[Tensor], round: Duration) -> (usize, Duration) {
    let start = Instant::now();
    let tasks: Vec<_> = images
        .iter()
        .map(|image| {
            let (b, image) = (b.clone(), image.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while n == 0 || start.elapsed() < round {
                    let deadline = Instant::now() + Duration::from_secs(600);
                    b.submit(vec![image.clone()], deadline).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut n = 0;
    for task in tasks {
        n += task.await.unwrap();
    }
    (n, start.elapsed())
}

fn report(mode: &str, round: usize, images: usize, elapsed: Duration, faults: u64) -> f64 {
    let per_s = images as f64 / elapsed.as_secs_f64();
    println!(
        "bench=resnet_batcher mode={mode} round={round} images={images} secs={:.3} \
         images_per_s={per_s:.2} minor_faults_per_image={}",
        elapsed.as_secs_f64(),
        faults / images as u64
    );
    per_s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One malloc arena, mmap threshold 32 MB (glibc's most), trim threshold 1 GB: see the
/// module docs. Returns whether glibc took all three.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn pin_glibc_malloc() -> bool {
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_MMAP_THRESHOLD: i32 = -3;
    const M_ARENA_MAX: i32 = -8;
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: mallopt only sets glibc allocator parameters; no other thread exists yet.
    unsafe {
        mallopt(M_ARENA_MAX, 1) == 1
            && mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1
            && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn pin_glibc_malloc() -> bool {
    false
}

/// Minor page faults of the whole process so far (field 10 of /proc/self/stat; 0 if unknown).
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(command)` one, which may hold spaces: state is field 3.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

/// The 1-minute load average, to judge how quiet the machine was.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
