//! Fresh instance + trivial call: the fixed cost every request pays twice (pre and post).
//! `cargo bench -p ferroserve-sandbox --bench instantiate`

use criterion::{Criterion, criterion_group, criterion_main};
use ferroserve_sandbox::{HandlerRequest, Limits, Sandbox, SandboxConfig};

fn request() -> HandlerRequest {
    HandlerRequest {
        body: b"[1]".to_vec().into(),
        content_type: None,
        ..HandlerRequest::default()
    }
}

/// `noop` returns a scalar without looking at the request: the fixed cost alone. `ok`
/// parses a JSON body, logs a line and tries to read a file: a small real handler.
fn bench(c: &mut Criterion) {
    use ferroserve_test_fixtures::{NOOP, OK};
    let mut group = c.benchmark_group("fresh_instance_call");
    for (pooling, keep) in [(true, 16usize << 20), (true, 1 << 20), (false, 0)] {
        let config = SandboxConfig {
            pooling,
            keep_resident_bytes: keep,
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::new(config).unwrap();
        let allocator = match sandbox.allocator() {
            ferroserve_sandbox::Allocator::Pooling => format!("pooling_keep_{}MiB", keep >> 20),
            ferroserve_sandbox::Allocator::OnDemand => "ondemand".to_string(),
        };
        for (name, path) in [("noop", NOOP), ("ok", OK)] {
            let wasm = ferroserve_test_fixtures::bytes(path);
            let handler = sandbox.load(name, &wasm, None, Limits::default()).unwrap();
            group.bench_function(format!("{name}/{allocator}"), |b| {
                b.iter(|| {
                    let (result, _) = handler.preprocess_blocking(request());
                    result.unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
