//! A cell with a fake engine, for `ferroserve-cell`'s tests (no libtorch). A model file
//! holds `load=ok|echo|abort|fail|sleep:MS|read:PATH` (read: try the file, fail either way;
//! echo: the forward hands its inputs back, for timing the wire); its forward doubles an f32 input, unless the
//! input's first value asks for harm: -1 abort, -2 segfault, -3 loop forever, -5 exit 3,
//! -6 sleep 300 ms first, -7 spawn threads until refused, <= -1000 allocate and touch
//! that many MiB.

use std::sync::Arc;

use ferroserve_batcher::{BatchRunner, RunError};
use ferroserve_cell::{Engine, LoadSpec};
use ferroserve_tensor::Tensor;

struct Fake;
struct Doubler;
struct Echo;

impl BatchRunner for Echo {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        Ok(inputs)
    }
}

impl Engine for Fake {
    fn load(
        &self,
        spec: &LoadSpec,
        bytes: &[u8],
    ) -> Result<(Arc<dyn BatchRunner>, String), String> {
        let text = String::from_utf8_lossy(bytes);
        match text.trim().strip_prefix("load=").unwrap_or("ok") {
            "abort" => std::process::abort(),
            "fail" => return Err("ValueError: the fake model refuses to load".into()),
            // What TorchScript's `torch.from_file` would do: the confinement must refuse it.
            s if s.starts_with("read:") => {
                let read = std::fs::read(&s[5..]).map_err(|e| format!("read: {e}"))?;
                return Err(format!("read {} bytes", read.len()));
            }
            s if s.starts_with("sleep:") => {
                let ms: u64 = s[6..].parse().map_err(|_| "bad sleep")?;
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            "echo" => return Ok((Arc::new(Echo), "cpu".into())),
            _ => {}
        }
        Ok((
            Arc::new(Doubler),
            spec.device.clone().unwrap_or("cpu".into()),
        ))
    }
}

impl BatchRunner for Doubler {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        let x = inputs.first().ok_or_else(|| RunError::new("one input"))?;
        let v = x.to_f32().ok_or_else(|| RunError::new("f32 only"))?;
        match v.first().copied().unwrap_or(0.0) {
            -1.0 => std::process::abort(),
            // SAFETY: none: a deliberate fault, as a broken native op would make.
            -2.0 => unsafe { std::ptr::null_mut::<u8>().write_volatile(1) },
            -3.0 => loop {
                std::hint::spin_loop();
            },
            -5.0 => std::process::exit(3),
            -6.0 => std::thread::sleep(std::time::Duration::from_millis(300)),
            -7.0 => loop {
                if std::thread::Builder::new()
                    .spawn(std::thread::park)
                    .is_err()
                {
                    return Err(RunError::new("could not start another thread"));
                }
            },
            m if m <= -1000.0 => {
                let mut block = vec![0u8; (-m) as usize * (1 << 20)];
                for i in (0..block.len()).step_by(4096) {
                    block[i] = 1;
                }
                std::hint::black_box(&block);
            }
            _ => {}
        }
        let out: Vec<f32> = v.iter().map(|x| x * 2.0).collect();
        Ok(vec![
            Tensor::from_f32("output", x.shape().to_vec(), &out)
                .map_err(|e| RunError::new(e.to_string()))?,
        ])
    }
}

fn main() {
    if std::env::args().any(|a| a == "--zygote") {
        // SAFETY: the server passed the control socket as fd 3 and nothing else uses it.
        let zygote = unsafe { ferroserve_cell::zygote_fd(3, cell) };
        if let Err(e) = zygote {
            eprintln!("fake cell zygote: {e}");
            std::process::exit(1);
        }
        return;
    }
    std::process::exit(cell());
}

fn cell() -> i32 {
    if let Err(e) = ferroserve_cell::confine(&[], &[]) {
        eprintln!("fake cell: {e}");
        return 1;
    }
    // SAFETY: the server passed the socket as fd 3 and nothing else uses it.
    let served = unsafe { ferroserve_cell::serve_fd(3, Arc::new(Fake)) };
    if let Err(e) = served {
        eprintln!("fake cell: {e}");
        return 1;
    }
    0
}
