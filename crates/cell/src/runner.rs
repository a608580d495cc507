//! [`CellModel`]: a model in a cell, as the batcher sees it ([`BatchRunner`]). A batch is
//! sent to the cell and waited for up to the model's response timeout plus [`GRACE`]; past
//! that the cell is killed (the caller had its timeout already) and restarts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferroserve_batcher::{BatchRunner, Fault, RunError};
use ferroserve_tensor::Tensor;

use crate::Death;
use crate::cell::{Cell, GRACE};
use crate::conn::Answer;
use crate::proto::{self, Request};

pub struct CellModel {
    cell: Arc<Cell>,
    id: u64,
    timeout: Duration,
}

impl CellModel {
    pub(crate) fn new(cell: Arc<Cell>, id: u64, timeout: Duration) -> CellModel {
        CellModel { cell, id, timeout }
    }
}

impl BatchRunner for CellModel {
    fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RunError> {
        let stopping = {
            let s = self.cell.state.lock().unwrap();
            let m = s.models.get(&self.id);
            if let Some(why) = m.and_then(|m| m.failed.clone()) {
                return Err(RunError::of(
                    Fault::Unavailable,
                    format!("the model is marked failed: {why}"),
                ));
            }
            m.is_none_or(|m| m.stopping)
        };
        // While the model is being unregistered, a forward gets the grace and no more.
        let limit = if stopping {
            GRACE
        } else {
            self.timeout + GRACE
        };
        let conn = self
            .cell
            .live(Instant::now() + self.timeout)
            .map_err(|e| RunError::of(Fault::Unavailable, e.to_string()))?;
        let heads = proto::heads(&inputs);
        let req = |id| Request::Run {
            id,
            model: self.id,
            inputs: heads,
        };
        match conn.call(self.id, req, &inputs, limit) {
            Some(Answer::Ran(outputs)) => {
                if let Some(m) = self.cell.state.lock().unwrap().models.get_mut(&self.id) {
                    m.strikes = 0;
                }
                Ok(outputs)
            }
            Some(Answer::Failed(message)) => Err(RunError::new(message)),
            Some(Answer::Loaded(_)) => Err(RunError::new(
                "the model process answered a batch with a load",
            )),
            Some(Answer::Died(death)) => Err(died(&death)),
            None => {
                conn.kill(Some(limit));
                Err(RunError::of(
                    Fault::Stopped,
                    format!(
                        "the forward ran past the model's response timeout ({} s) plus a {} s grace; its process was stopped and restarts",
                        self.timeout.as_secs(),
                        GRACE.as_secs()
                    ),
                ))
            }
        }
    }

    fn failed(&self) -> Option<String> {
        let s = self.cell.state.lock().unwrap();
        s.models.get(&self.id).and_then(|m| m.failed.clone())
    }

    fn stop(&self) {
        let conn = {
            let mut s = self.cell.state.lock().unwrap();
            if let Some(m) = s.models.get_mut(&self.id) {
                m.stopping = true;
            }
            s.conn.clone()
        };
        let Some(conn) = conn.filter(|c| c.in_flight(self.id) > 0) else {
            return;
        };
        let id = self.id;
        // A forward still running after the grace is a runaway: its cell goes.
        let _ = std::thread::Builder::new()
            .name("cell-stop".into())
            .spawn(move || {
                std::thread::sleep(GRACE);
                if conn.in_flight(id) > 0 {
                    conn.kill(Some(GRACE));
                }
            });
    }
}

fn died(death: &Death) -> RunError {
    let fault = match death {
        Death::Stopped { .. } => Fault::Stopped,
        _ => Fault::Crashed,
    };
    RunError::of(
        fault,
        format!(
            "the model's process died while running this batch ({death}); it restarts by itself"
        ),
    )
}

impl Drop for CellModel {
    fn drop(&mut self) {
        self.cell.unload(self.id);
    }
}
