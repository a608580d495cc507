//! Reading and validating a ~47 MB ResNet-18 archive (target: ≤ 300 ms). The model is the
//! one `examples/models/make_test_models.py` writes to ~/.cache/ferroserve/models (run any
//! torch test once to make it); the handler is the `OK` fixture; the world check is left
//! out (`PreambleOnly`) as it is the sandbox's compile, measured in its own benches.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use ferroserve_archive::{
    ArchiveFormat, PreambleOnly, ReadLimits, WriteOptions, read_archive, write_archive,
};

fn bench(c: &mut Criterion) {
    let home = std::env::var("HOME").unwrap_or_default();
    let model = PathBuf::from(home).join(".cache/ferroserve/models/resnet18.pt");
    if !model.exists() {
        eprintln!(
            "SKIPPED: {} not found (run the torch crate's tests once)",
            model.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let handler = dir.path().join("handler.wasm");
    std::fs::copy(ferroserve_test_fixtures::OK, &handler).unwrap();
    let opts = WriteOptions {
        model_name: "resnet18".into(),
        version: "1.0".into(),
        serialized_file: model,
        handler,
        extra_files: vec![],
        config_file: None,
        export_path: dir.path().to_path_buf(),
        force: true,
        format: ArchiveFormat::Default,
    };
    let (path, _) = write_archive(&opts).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let mut g = c.benchmark_group("archive");
    g.sample_size(20);
    g.bench_function(format!("read_validate_resnet18_{}MB", size >> 20), |b| {
        b.iter(|| read_archive(&path, &ReadLimits::default(), &PreambleOnly).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
