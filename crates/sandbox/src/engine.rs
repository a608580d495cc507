//! The process's one wasmtime engine: pooling allocator when the address space allows
//! (on-demand otherwise, with a log line), copy-on-write memory images, and epoch
//! interruption driven by a ticker thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::SandboxError;
use crate::limits::SandboxConfig;

/// Which allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    Pooling,
    OnDemand,
}

pub(crate) fn build(cfg: &SandboxConfig) -> Result<(Engine, Allocator), SandboxError> {
    if cfg.pooling {
        match Engine::new(&config(Some(pooling(cfg)))) {
            Ok(engine) => return Ok((engine, Allocator::Pooling)),
            Err(e) => tracing::warn!(
                error = %e,
                "the pooling allocator could not reserve its address space; using on-demand allocation (slower instantiation)"
            ),
        }
    }
    let engine = Engine::new(&config(None)).map_err(|e| SandboxError::Engine(e.to_string()))?;
    Ok((engine, Allocator::OnDemand))
}

/// Every setting that shapes compiled code is here, so the compiler child
/// (`compile/entry.rs`, `None` for `pool`) makes code this engine loads.
pub(crate) fn config(pool: Option<PoolingAllocationConfig>) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .max_wasm_stack(1 << 20);
    if let Some(pool) = pool {
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    c
}

fn pooling(cfg: &SandboxConfig) -> PoolingAllocationConfig {
    // One component instance per executing call; headroom for load-time checks.
    let instances = (cfg.threads as u32).saturating_mul(2).saturating_add(8);
    let mut p = PoolingAllocationConfig::new();
    // Core instances: a Rust component has a handful; componentize-py's CPython links 14
    // modules and componentize-js's 4 (docs/configuration.md). Slots are address space and
    // bookkeeping, not memory a call can fill: linear memory is capped per call.
    p.total_component_instances(instances)
        .total_core_instances(instances * 32)
        .total_memories(instances * 2)
        .total_tables(instances * 8)
        .max_core_instances_per_component(64)
        .max_memories_per_component(2)
        .max_tables_per_component(8)
        .max_memory_size(cfg.max_memory_bytes)
        // Reset the warm part of a slot in place instead of handing it back to the kernel:
        // a fresh instance then starts without page faults on its working set.
        .linear_memory_keep_resident(cfg.keep_resident_bytes)
        // Each warm slot keeps its resident part: without a bound, the set of warm slots
        // grew towards every slot in the pool as calls of many handlers came and went
        // (RSS +20 % over 1,000 hostile calls after 1,000 to warm up). Two per thread keeps
        // the hot handlers' slots warm and RSS bounded.
        .max_unused_warm_slots((cfg.threads as u32).saturating_mul(2))
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto);
    p
}

/// Advances the engine's epoch every `tick` until dropped.
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    pub(crate) fn start(engine: Engine, tick: Duration) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
