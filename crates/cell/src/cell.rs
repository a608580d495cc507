//! [`Cells`]: one supervised worker process per owner. A cell starts with its owner's first
//! model, restarts with backoff after it dies (reloading its models), and stops when its
//! last model is unloaded. A model running at [`STRIKES`] deaths in a row is marked failed.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::conn::{Answer, Conn, Watcher};
use crate::limits::{CellGroup, Groups};
use crate::output;
pub use crate::process::CellCommand;
use crate::process::Spawner;
use crate::proto::{LoadSpec, Request};
use crate::{CellError, CellLimits, CellModel, Death, Enforcement};
use ferroserve_tensor::{DType, Tensor};

/// How long a forward may run past its model's response timeout before its cell is killed,
/// and how long an unregistration waits for a running forward.
pub const GRACE: Duration = Duration::from_secs(1);
/// Deaths in a row with the model's batch in flight before it is marked failed.
pub(crate) const STRIKES: u32 = 3;
/// The longest a model may take to load.
const LOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// A cell that lived this long before dying starts again at once.
const HEALTHY: Duration = Duration::from_secs(30);

/// Every cell of this server.
pub struct Cells {
    parts: Arc<Parts>,
    cells: Mutex<HashMap<String, Arc<Cell>>>,
}

/// What every cell shares.
struct Parts {
    cmd: CellCommand,
    groups: Groups,
    spawner: Spawner,
    next_model: AtomicU64,
    max_output: u64,
}

impl Cells {
    /// Cells run `cmd`; groups are made under `cgroup_root` (`None`: rlimits only); a reply
    /// may carry at most `max_output` bytes of tensors.
    pub fn new(
        cmd: CellCommand,
        cgroup_root: Option<&Path>,
        max_output: u64,
    ) -> std::io::Result<Cells> {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let tag = format!("ferroserve-{}", std::process::id());
        let groups = Groups::detect(cgroup_root, &own, &tag);
        Ok(Cells {
            parts: Arc::new(Parts {
                cmd,
                groups,
                spawner: Spawner::start()?,
                next_model: AtomicU64::new(1),
                max_output,
            }),
            cells: Mutex::default(),
        })
    }

    /// How this server enforces its cells' limits.
    pub fn enforcement(&self) -> &Enforcement {
        &self.parts.groups.enforcement
    }

    /// Loads a model into its owner's cell (started, under `limits`, if need be).
    pub fn load(
        &self,
        owner: Option<&str>,
        limits: CellLimits,
        spec: LoadSpec,
        label: &str,
        response_timeout: Duration,
    ) -> Result<(CellModel, String), CellError> {
        let name = match owner {
            None => "shared".to_owned(),
            Some(t) => format!("tenant-{}", safe(t)),
        };
        let cell = self
            .cells
            .lock()
            .unwrap()
            .entry(name.clone())
            .or_insert_with(|| Cell::new(name, self.parts.clone()))
            .clone();
        cell.set_limits(limits);
        let spec = LoadSpec {
            threads: limits.forward_threads(),
            ..spec
        };
        let (id, device) = cell.load(spec, label)?;
        Ok((CellModel::new(cell, id, response_timeout), device))
    }

    /// The pid of `owner`'s live cell, if any (for tests and the operator's tools).
    pub fn pid_of(&self, owner: Option<&str>) -> Option<u32> {
        let name = owner.map_or("shared".to_owned(), |t| format!("tenant-{}", safe(t)));
        let cell = self.cells.lock().unwrap().get(&name).cloned()?;
        let s = cell.state.lock().unwrap();
        s.conn.as_ref().filter(|c| !c.is_dead()).map(|c| c.pid)
    }
}

impl Drop for Cells {
    fn drop(&mut self) {
        for cell in self.cells.lock().unwrap().values() {
            cell.close();
        }
        self.cells.lock().unwrap().clear();
        self.parts.groups.remove();
    }
}

/// A tenant name as a file name: tenant names are already restricted, this is belt and braces.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(crate) struct Cell {
    name: String,
    parts: Arc<Parts>,
    pub(crate) state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
pub(crate) struct State {
    pub conn: Option<Arc<Conn>>,
    /// Someone is starting the process (or waiting out a backoff to): others wait.
    starting: bool,
    closing: bool,
    pub models: HashMap<u64, Registered>,
    /// Deaths in a row, for the backoff.
    crashes: u32,
    limits: CellLimits,
    group: Option<Arc<CellGroup>>,
    oom_base: u64,
    /// Why the last start failed, for callers that waited for it.
    last_death: Option<String>,
}

pub(crate) struct Registered {
    spec: LoadSpec,
    label: String,
    pub strikes: u32,
    pub failed: Option<String>,
    pub stopping: bool,
}

impl Cell {
    fn new(name: String, parts: Arc<Parts>) -> Arc<Cell> {
        Arc::new(Cell {
            name,
            parts,
            state: Mutex::default(),
            changed: Condvar::new(),
        })
    }

    fn set_limits(&self, limits: CellLimits) {
        let mut s = self.state.lock().unwrap();
        s.limits = limits;
        if let Some(g) = &s.group
            && let Err(e) = g.set(&limits)
        {
            tracing::warn!(cell = %self.name, error = %e, "cannot update the cell's limits");
        }
    }

    fn load(self: &Arc<Self>, spec: LoadSpec, label: &str) -> Result<(u64, String), CellError> {
        let conn = self.live(Instant::now() + LOAD_TIMEOUT)?;
        let id = self.parts.next_model.fetch_add(1, Relaxed);
        let req = |rid| Request::Load {
            id: rid,
            model: id,
            spec: spec.clone(),
        };
        match conn.call(id, req, &[model_file(&spec)?], LOAD_TIMEOUT) {
            Some(Answer::Loaded(device)) => {
                let mut s = self.state.lock().unwrap();
                s.models.insert(
                    id,
                    Registered {
                        spec,
                        label: label.to_owned(),
                        strikes: 0,
                        failed: None,
                        stopping: false,
                    },
                );
                Ok((id, device))
            }
            Some(Answer::Failed(message)) => Err(CellError::Load(message)),
            Some(Answer::Died(death)) => Err(CellError::LoadKilled(death)),
            Some(Answer::Ran(_)) => Err(CellError::Protocol("outputs in reply to a load".into())),
            None => {
                conn.kill(None);
                Err(CellError::LoadTimeout(LOAD_TIMEOUT))
            }
        }
    }

    /// The live process, started (or waited for) by `deadline`.
    pub(crate) fn live(self: &Arc<Self>, deadline: Instant) -> Result<Arc<Conn>, CellError> {
        let mut s = self.state.lock().unwrap();
        loop {
            match (&s.conn, s.starting) {
                (Some(c), false) if !c.is_dead() => return Ok(c.clone()),
                // Dead, and its watcher not yet told: it restarts the process.
                (Some(_), false) | (_, true) => {}
                (None, false) => {
                    s.starting = true;
                    drop(s);
                    return self.bring_up();
                }
            }
            let now = Instant::now();
            if now >= deadline {
                let why = s
                    .last_death
                    .clone()
                    .unwrap_or_else(|| "it is starting".into());
                return Err(CellError::Start(format!(
                    "the model's process is restarting (it was {why}); retry shortly"
                )));
            }
            s = self.changed.wait_timeout(s, deadline - now).unwrap().0;
        }
    }

    /// Starts the process and reloads every model not marked failed, again after backoff
    /// when it dies meanwhile. The caller set `starting`; this clears it.
    fn bring_up(self: &Arc<Self>) -> Result<Arc<Conn>, CellError> {
        loop {
            let conn = match self.spawn() {
                Ok(c) => c,
                Err(e) => {
                    let mut s = self.state.lock().unwrap();
                    s.starting = false;
                    s.last_death = Some(e.to_string());
                    self.changed.notify_all();
                    return Err(e);
                }
            };
            let models: Vec<(u64, LoadSpec)> = {
                let s = self.state.lock().unwrap();
                s.models
                    .iter()
                    .filter(|(_, m)| m.failed.is_none())
                    .map(|(id, m)| (*id, m.spec.clone()))
                    .collect()
            };
            let mut died = false;
            for (id, spec) in models {
                let file = match model_file(&spec) {
                    Ok(f) => f,
                    Err(e) => {
                        self.fail(
                            id,
                            format!("reloading it after its process restarted failed: {e}"),
                        );
                        continue;
                    }
                };
                let req = |rid| Request::Load {
                    id: rid,
                    model: id,
                    spec,
                };
                match conn.call(id, req, &[file], LOAD_TIMEOUT) {
                    Some(Answer::Loaded(_)) => {}
                    Some(Answer::Died(_)) => {
                        died = true;
                        break;
                    }
                    other => {
                        let why = match other {
                            Some(Answer::Failed(m)) => m,
                            _ => "it did not load again in time".into(),
                        };
                        self.fail(
                            id,
                            format!("reloading it after its process restarted failed: {why}"),
                        );
                        if conn.is_dead() {
                            died = true;
                            break;
                        }
                    }
                }
            }
            let mut s = self.state.lock().unwrap();
            if !died && !conn.is_dead() {
                s.starting = false;
                self.changed.notify_all();
                return Ok(conn);
            }
            if s.closing {
                s.starting = false;
                self.changed.notify_all();
                return Err(CellError::Start(
                    "the model's process is shutting down".into(),
                ));
            }
            let pause = backoff(s.crashes);
            drop(s);
            std::thread::sleep(pause);
        }
    }

    fn spawn(self: &Arc<Self>) -> Result<Arc<Conn>, CellError> {
        let mut s = self.state.lock().unwrap();
        if s.group.is_none() {
            let group = self
                .parts
                .groups
                .create(&self.name, &s.limits)
                .map_err(CellError::Start)?;
            s.group = group.map(Arc::new);
        }
        s.oom_base = s.group.as_ref().map_or(0, |g| g.oom_kills());
        let rlimit = s
            .limits
            .memory_bytes
            .filter(|_| self.parts.groups.needs_rlimit());
        let group = s.group.clone();
        drop(s);
        let spawned = self
            .parts
            .spawner
            .spawn(&self.parts.cmd, rlimit)
            .map_err(|e| CellError::Start(format!("{}: {e}", self.parts.cmd.program.display())))?;
        let mut process = spawned.process;
        if let Some(g) = &group
            && let Err(e) = g.attach(process.id())
        {
            process.kill();
            let _ = process.wait();
            return Err(CellError::Start(e));
        }
        let budget = output::Budget::new(&self.name);
        for out in [spawned.stdout, spawned.stderr].into_iter().flatten() {
            output::relay(out, budget.clone());
        }
        let watcher: Arc<dyn Watcher> = self.clone();
        let conn = Conn::start(spawned.stream, process, self.parts.max_output, watcher)?;
        tracing::info!(cell = %self.name, pid = conn.pid, "model process started");
        self.state.lock().unwrap().conn = Some(conn.clone());
        Ok(conn)
    }

    fn fail(&self, id: u64, why: String) {
        let mut s = self.state.lock().unwrap();
        if let Some(m) = s.models.get_mut(&id) {
            tracing::warn!(cell = %self.name, model = %m.label, reason = %why, "model marked failed");
            m.failed = Some(why);
        }
    }

    /// Forgets a model; the process stops with its last model.
    pub(crate) fn unload(&self, id: u64) {
        let mut s = self.state.lock().unwrap();
        s.models.remove(&id);
        let Some(conn) = s.conn.clone() else {
            return;
        };
        if s.models.is_empty() {
            s.conn = None;
            drop(s);
            conn.close();
        } else {
            drop(s);
            let _ = conn.send(&Request::Unload { model: id }, &[]);
        }
    }

    fn close(&self) {
        let mut s = self.state.lock().unwrap();
        s.closing = true;
        if let Some(c) = s.conn.take() {
            c.kill(None);
        }
    }
}

/// No wait after a first death; then 100 ms doubling to 5 s.
fn backoff(crashes: u32) -> Duration {
    match crashes {
        0 | 1 => Duration::ZERO,
        n => Duration::from_millis(100u64 << (n - 2).min(6)).min(Duration::from_secs(5)),
    }
}

impl Watcher for Cell {
    fn classify(&self, status: Option<ExitStatus>, stopped: Option<Duration>) -> Death {
        let s = self.state.lock().unwrap();
        let oom = s.group.as_ref().is_some_and(|g| g.oom_kills() > s.oom_base);
        Death::of(status, stopped, oom, s.limits.memory_bytes)
    }

    fn count(&self, conn: &Arc<Conn>, death: &Death, in_flight: &[u64]) {
        let mut s = self.state.lock().unwrap();
        let current = s.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn));
        if !current || s.closing {
            return;
        }
        for id in in_flight {
            if let Some(m) = s.models.get_mut(id) {
                m.strikes += 1;
                if m.strikes >= STRIKES && m.failed.is_none() {
                    let why = format!(
                        "its process died {STRIKES} times in a row while running it (last: {death}); fix the model and register it again"
                    );
                    tracing::warn!(cell = %self.name, model = %m.label, reason = %why, "model marked failed");
                    m.failed = Some(why);
                }
            }
        }
    }

    fn died(self: Arc<Self>, conn: &Arc<Conn>, death: &Death) {
        let mut s = self.state.lock().unwrap();
        let current = s.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn));
        if !current || s.closing {
            return;
        }
        tracing::warn!(cell = %self.name, pid = conn.pid, cause = %death, "model process died");
        s.crashes = if conn.started.elapsed() >= HEALTHY {
            1
        } else {
            s.crashes + 1
        };
        s.last_death = Some(death.to_string());
        s.conn = None;
        let wanted = s.models.values().any(|m| m.failed.is_none());
        if s.starting || !wanted {
            self.changed.notify_all();
            return;
        }
        s.starting = true;
        let pause = backoff(s.crashes);
        drop(s);
        std::thread::sleep(pause);
        // `live` callers wait meanwhile; `bring_up` clears `starting`.
        let _ = self.bring_up();
    }
}

/// The model file's bytes, to send with its load: the cell opens no model file itself.
fn model_file(spec: &LoadSpec) -> Result<Tensor, CellError> {
    // No path in the message: it reaches the uploader.
    let bytes = std::fs::read(&spec.path)
        .map_err(|e| CellError::Load(format!("the server cannot read the model file: {e}")))?;
    Tensor::new("model", DType::U8, vec![bytes.len() as u64], bytes)
        .map_err(|e| CellError::Load(e.to_string()))
}
