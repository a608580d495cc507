//! glibc malloc settings for processes that run libtorch: the server and its cells.

/// libtorch allocates and frees large activation buffers every forward; glibc's defaults
/// return them to the kernel (mmap/trim) and fault them back in, costing up to ~10 % of
/// ResNet-18 throughput (docs/benchmarks.md). Keep them: big blocks from the heap, no trim.
/// One arena per core, not glibc's eight: each arena keeps its own high-water mark, and
/// with 16 of them hostile handler output left RSS rising in ~100 MiB steps (what the
/// sandbox lifts and refuses is trimmed, `crates/sandbox/src/trim.rs`).
/// Called before any thread starts.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_ARENA_MAX: i32 = -8;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // SAFETY: mallopt only sets glibc allocator parameters; no other thread exists yet.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
            mallopt(M_ARENA_MAX, i32::try_from(cores).unwrap_or(i32::MAX).max(2));
        }
    }
}
