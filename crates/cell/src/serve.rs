//! The cell side: [`serve`] reads the server's requests from the socket, loads models
//! through the [`Engine`] seam and runs batches, answering in whatever order the forwards
//! finish. The cell exits when the server closes the socket.
//!
//! Leader and followers: the thread that reads a batch runs it itself, and a waiting
//! thread takes the socket over meanwhile (one is started when none waits). A batch thus
//! costs no hand-off between threads in the cell, and a running forward never stops the
//! next batch from being read. The server's batcher bounds the batches in flight (its
//! workers), so the threads follow the owner's workers; the cell's pids limit bounds them
//! too.

use std::collections::HashMap;
use std::io::{self, BufWriter};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, RwLock, mpsc};

use bytes::Bytes;
use ferroserve_batcher::BatchRunner;
use ferroserve_tensor::Tensor;

use crate::LoadSpec;
use crate::fds::FdReader;
use crate::proto::{self, Reply, Request};
use crate::shm::Take;

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

/// Threads beyond this are not started: a batch then waits for a forward to end.
const MAX_THREADS: usize = 1024;

type Models = Arc<RwLock<HashMap<u64, Arc<dyn BatchRunner>>>>;

struct Shared {
    reader: Mutex<FdReader>,
    writer: Arc<Mutex<BufWriter<UnixStream>>>,
    models: Models,
    engine: Arc<dyn Engine>,
    /// Threads not running a forward: reading, or waiting to.
    free: AtomicUsize,
    total: AtomicUsize,
    /// Told once, by the thread that finds the socket closed (or broken).
    end: Mutex<Option<mpsc::Sender<io::Result<()>>>>,
}

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
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        writer: Arc::new(Mutex::new(BufWriter::new(stream.try_clone()?))),
        reader: Mutex::new(FdReader::new(stream, Take::Map)),
        models: Arc::default(),
        engine,
        free: AtomicUsize::new(0),
        total: AtomicUsize::new(0),
        end: Mutex::new(Some(tx)),
    });
    shared.clone().follower()?;
    rx.recv().unwrap_or(Ok(()))
}

impl Shared {
    /// Starts one more thread that waits for the socket.
    fn follower(self: Arc<Self>) -> io::Result<()> {
        self.free.fetch_add(1, SeqCst);
        self.total.fetch_add(1, SeqCst);
        let me = self.clone();
        let started = std::thread::Builder::new()
            .name("cell-forward".into())
            .spawn(move || me.follow());
        if started.is_err() {
            self.free.fetch_sub(1, SeqCst);
            self.total.fetch_sub(1, SeqCst);
        }
        started.map(drop)
    }

    fn follow(self: Arc<Self>) {
        loop {
            let frame =
                proto::read_frame::<Request>(&mut *self.reader.lock().unwrap(), MAX_INPUT_BYTES);
            let (req, data) = match frame {
                Ok(Some(frame)) => frame,
                Ok(None) => return self.finish(Ok(())),
                Err(e) => return self.finish(Err(e)),
            };
            match req {
                Request::Load { id, model, spec } => self.load(id, model, spec, data),
                Request::Run { id, model, inputs } => {
                    // Someone must read the next batch while this thread runs this one.
                    if self.free.fetch_sub(1, SeqCst) == 1 && self.total.load(SeqCst) < MAX_THREADS
                    {
                        let _ = self.clone().follower();
                    }
                    self.run(id, model, inputs, data);
                    self.free.fetch_add(1, SeqCst);
                }
                Request::Unload { model } => {
                    self.models.write().unwrap().remove(&model);
                }
            }
        }
    }

    /// Loads take seconds: on a thread of their own, so other models keep running.
    fn load(&self, id: u64, model: u64, spec: LoadSpec, data: Bytes) {
        let (engine, models, writer) = (
            self.engine.clone(),
            self.models.clone(),
            self.writer.clone(),
        );
        let loading = std::thread::Builder::new()
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
            });
        if let Err(e) = loading {
            let message = format!("the model process cannot start a thread: {e}");
            answer(&self.writer, &Reply::Failed { id, message }, &[]);
        }
    }

    fn run(&self, id: u64, model: u64, inputs: Vec<proto::TensorHead>, data: Bytes) {
        let runner = self.models.read().unwrap().get(&model).cloned();
        let outcome = match runner {
            None => Err(format!("model {model} is not loaded in this process")),
            Some(r) => run(&*r, proto::tensors(inputs, data)),
        };
        match outcome {
            Ok(outputs) => {
                let heads = proto::heads(&outputs);
                answer(&self.writer, &Reply::Ran { id, outputs: heads }, &outputs)
            }
            Err(message) => answer(&self.writer, &Reply::Failed { id, message }, &[]),
        }
    }

    fn finish(&self, result: io::Result<()>) {
        if let Some(tx) = self.end.lock().unwrap().take() {
            let _ = tx.send(result);
        }
    }
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
    if proto::send_frame(&mut w, reply, tensors).is_err() {
        std::process::exit(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model whose forward on a negative input waits for the gate.
    struct Gated(Mutex<mpsc::Receiver<()>>);
    impl BatchRunner for Gated {
        fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, ferroserve_batcher::RunError> {
            if inputs[0].to_f32().unwrap()[0] < 0.0 {
                self.0.lock().unwrap().recv().unwrap();
            }
            Ok(inputs)
        }
    }
    struct One(Mutex<Option<Arc<dyn BatchRunner>>>);
    impl Engine for One {
        fn load(&self, _: &LoadSpec, _: &[u8]) -> Result<(Arc<dyn BatchRunner>, String), String> {
            Ok((self.0.lock().unwrap().take().unwrap(), "cpu".into()))
        }
    }

    fn x(v: f32) -> Vec<Tensor> {
        vec![Tensor::from_f32("x", vec![1], &[v]).unwrap()]
    }

    #[test]
    fn a_running_forward_does_not_stop_the_next_batch() {
        let (gate, gate_rx) = mpsc::channel();
        let engine = Arc::new(One(Mutex::new(Some(Arc::new(Gated(Mutex::new(gate_rx)))))));
        let (server, cell) = UnixStream::pair().unwrap();
        // A cell that stops reading fails the test instead of hanging it.
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let cell_thread = std::thread::spawn(move || serve(cell, engine));
        let mut w = BufWriter::new(server.try_clone().unwrap());
        let mut r = FdReader::new(server.try_clone().unwrap(), Take::Copy);
        let mut reply = || {
            proto::read_frame::<Reply>(&mut r, 1 << 20)
                .unwrap()
                .unwrap()
                .0
        };
        let spec = LoadSpec {
            path: "m.pt".into(),
            device: None,
            warmup: vec![],
            threads: None,
        };
        let file = Tensor::new(
            "model",
            ferroserve_tensor::DType::U8,
            vec![1],
            b"m".to_vec(),
        )
        .unwrap();
        proto::send_frame(
            &mut w,
            &Request::Load {
                id: 1,
                model: 7,
                spec,
            },
            &[file],
        )
        .unwrap();
        assert!(matches!(reply(), Reply::Loaded { id: 1, .. }));
        let run = |w: &mut BufWriter<UnixStream>, id, v| {
            let t = x(v);
            let req = Request::Run {
                id,
                model: 7,
                inputs: proto::heads(&t),
            };
            proto::send_frame(w, &req, &t).unwrap();
        };
        run(&mut w, 2, -1.0);
        // Batch 3 is answered while batch 2 still runs.
        run(&mut w, 3, 1.0);
        assert_eq!(reply().id(), 3);
        gate.send(()).unwrap();
        assert_eq!(reply().id(), 2);
        for id in 4..24 {
            run(&mut w, id, 1.0);
            assert_eq!(reply().id(), id);
        }
        drop((w, reply));
        server.shutdown(std::net::Shutdown::Both).unwrap();
        cell_thread.join().unwrap().unwrap();
    }
}
