//! Fresh instance + trivial call: the fixed cost every request pays twice (pre and post).
//! `cargo bench -p ferroserve-sandbox --bench instantiate`

use criterion::{Criterion, criterion_group, criterion_main};
use ferroserve_sandbox::{HandlerRequest, Limits, Sandbox, SandboxConfig};

fn request() -> HandlerRequest {
    HandlerRequest { body: b"[1]".to_vec().into(), content_type: None, ..HandlerRequest::default() }
}

fn bench(c: &mut Criterion) {
    let wasm = ferroserve_test_fixtures::bytes(ferroserve_test_fixtures::OK);
    let mut group = c.benchmark_group("fresh_instance_trivial_call");
    for pooling in [true, false] {
        let sandbox = Sandbox::new(SandboxConfig { pooling, ..SandboxConfig::default() }).unwrap();
        let handler = sandbox.load("ok", &wasm, None, Limits::default()).unwrap();
        let label = format!("{:?}", sandbox.allocator()).to_lowercase();
        group.bench_function(label, |b| {
            b.iter(|| {
                let (result, _) = handler.preprocess_blocking(request());
                result.unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
