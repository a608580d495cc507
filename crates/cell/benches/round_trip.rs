//! One batch's round trip through a real cell process (the `fake-cell` binary, with a model
//! that hands its input back), by batch size: what the wire costs, from the MLP's few bytes
//! to a batch of eight ResNet-18 inputs (8 × 3 × 224 × 224 f32, 4.8 MB each way).
//!
//! `cargo bench -p ferroserve-cell --bench round_trip`. docs/benchmarks.md has the
//! socket-only wire against the shared-memory one.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferroserve_batcher::BatchRunner;
use ferroserve_cell::{CellCommand, CellLimits, Cells, LoadSpec};
use ferroserve_tensor::Tensor;

fn round_trip(c: &mut Criterion) {
    let cmd = CellCommand {
        program: PathBuf::from(env!("CARGO_BIN_EXE_fake-cell")),
        args: vec![],
        env: vec![],
        zygote: true,
    };
    let cells = Cells::new(cmd, None, 1 << 30).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok");
    std::fs::write(&path, "load=echo").unwrap();
    let spec = LoadSpec {
        path,
        device: None,
        warmup: vec![],
        threads: None,
    };
    let timeout = Duration::from_secs(10);
    let (model, _) = cells
        .load(Some("bench"), CellLimits::default(), spec, "m:1", timeout)
        .unwrap();
    let mut group = c.benchmark_group("cell_round_trip");
    for floats in [
        16usize,
        64 << 10,
        256 << 10,
        512 << 10,
        768 << 10,
        8 * 3 * 224 * 224,
    ] {
        let values = vec![1.5f32; floats];
        let input = Tensor::from_f32("x", vec![1, floats as u64], &values).unwrap();
        group.throughput(Throughput::Bytes(4 * floats as u64));
        group.bench_with_input(BenchmarkId::from_parameter(4 * floats), &input, |b, x| {
            b.iter(|| model.run(vec![x.clone()]).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).sample_size(30);
    targets = round_trip
}
criterion_main!(benches);
