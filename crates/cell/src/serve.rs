//! The cell side: [`serve`] reads the server's requests from the socket, loads models
//! through the [`Engine`] seam and runs each batch on a thread of its own, answering in
//! whatever order the forwards finish. The cell exits when the server closes the socket.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, RwLock};

use ferroserve_batcher::BatchRunner;
use ferroserve_tensor::Tensor;

use crate::LoadSpec;
use crate::proto::{self, Reply, Request};
use crate::threads::Threads;

/// What runs models inside a cell (the binary: libtorch).
pub trait Engine: Send + Sync + 'static {
    /// Loads and warms up a model from its file's `bytes` (the server read them: a cell
    /// opens no model file); returns it and the device it is on. The message of an error
    /// is shown to the uploader.
    fn load(&self, spec: &LoadSpec, bytes: &[u8])
    -> Result<(Arc<dyn BatchRunner>, String), String>;
}

/// The most tensor bytes one request from the server may carry.
const MAX_INPUT_BYTES: u64 = 1 << 36;

type Models = Arc<RwLock<HashMap<u64, Arc<dyn BatchRunner>>>>;

/// Serves the server on file descriptor `fd` (the socket it passed) until it hangs up.
///
/// # Safety
/// `fd` must be an open Unix stream socket that nothing else owns.
pub unsafe fn serve_fd(fd: i32, engine: Arc<dyn Engine>) -> io::Result<()> {
    // SAFETY: the caller hands over the descriptor.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    serve(stream, engine)
}

/// Serves the server over `stream` until it hangs up (then returns `Ok`).
pub fn serve(stream: UnixStream, engine: Arc<dyn Engine>) -> io::Result<()> {
    let writer = Arc::new(Mutex::new(BufWriter::new(stream.try_clone()?)));
    let mut reader = BufReader::new(stream);
    let models: Models = Arc::default();
    let threads = Arc::new(Threads::default());
    while let Some((req, data)) = proto::read_frame::<Request>(&mut reader, MAX_INPUT_BYTES)? {
        match req {
            Request::Load { id, model, spec } => {
                let (engine, models, writer) = (engine.clone(), models.clone(), writer.clone());
                // Loads take seconds: on a thread of their own, so other models keep running.
                std::thread::Builder::new()
                    .name("cell-load".into())
                    .spawn(move || {
                        let reply = match engine.load(&spec, &data) {
                            Ok((runner, device)) => {
                                models.write().unwrap().insert(model, runner);
                                Reply::Loaded { id, device }
                            }
                            Err(message) => Reply::Failed { id, message },
                        };
                        answer(&writer, &reply, &[]);
                    })?;
            }
            Request::Run { id, model, inputs } => {
                let runner = models.read().unwrap().get(&model).cloned();
                let writer = writer.clone();
                threads.submit(Box::new(move || {
                    let outcome = match runner {
                        None => Err(format!("model {model} is not loaded in this process")),
                        Some(r) => run(&*r, proto::tensors(inputs, data)),
                    };
                    match outcome {
                        Ok(outputs) => {
                            let heads = proto::heads(&outputs);
                            answer(&writer, &Reply::Ran { id, outputs: heads }, &outputs)
                        }
                        Err(message) => answer(&writer, &Reply::Failed { id, message }, &[]),
                    }
                }));
            }
            Request::Unload { model } => {
                models.write().unwrap().remove(&model);
            }
        }
    }
    Ok(())
}

fn run(
    runner: &dyn BatchRunner,
    inputs: Result<Vec<Tensor>, String>,
) -> Result<Vec<Tensor>, String> {
    let inputs = inputs?;
    match catch_unwind(AssertUnwindSafe(|| runner.run(inputs))) {
        Ok(Ok(outputs)) => Ok(outputs),
        Ok(Err(e)) => Err(e.message().to_owned()),
        Err(_) => Err("the model's code panicked".into()),
    }
}

/// A reply that cannot be written means the server is gone: the cell exits.
fn answer(writer: &Mutex<BufWriter<UnixStream>>, reply: &Reply, tensors: &[Tensor]) {
    let mut w = writer.lock().unwrap();
    if proto::write_frame(&mut *w, reply, tensors).is_err() {
        std::process::exit(0);
    }
}
