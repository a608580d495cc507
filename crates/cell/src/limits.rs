//! A cell's limits: its owner's model memory, threads and CPU, enforced by a cgroup of its
//! own where the server may create one (the unified v2 hierarchy of most Kubernetes nodes,
//! or the separate v1 controllers of these machines), else by `RLIMIT_DATA` alone (memory
//! only: threads and CPU are then uncapped, and the start-up log says so).

use std::fs;
use std::path::{Path, PathBuf};

/// The limits of one cell (`None`: no cap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellLimits {
    pub memory_bytes: Option<u64>,
    pub threads: Option<u64>,
    /// Percent of one core.
    pub cpu_percent: Option<u64>,
}

impl CellLimits {
    /// The intra-op threads a forward may use under this CPU grant: its cores, rounded up.
    /// More would spend the grant on every core at once and then stall for the rest of
    /// the period, leaving other tenants no core to run on meanwhile.
    pub fn forward_threads(&self) -> Option<usize> {
        self.cpu_percent.map(|p| {
            usize::try_from(p.div_ceil(100))
                .unwrap_or(usize::MAX)
                .max(1)
        })
    }
}

/// How limits are enforced on this server, as the start-up log reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    CgroupV2 {
        base: PathBuf,
    },
    CgroupV1 {
        base: PathBuf,
    },
    /// No cgroup could be made: memory by `RLIMIT_DATA`, the rest uncapped.
    Rlimits {
        why: String,
    },
}

impl std::fmt::Display for Enforcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Enforcement::CgroupV2 { base } => write!(
                f,
                "cgroup v2 under {} (memory.max, pids.max, cpu.max)",
                base.display()
            ),
            Enforcement::CgroupV1 { base } => write!(
                f,
                "cgroup v1 controllers, groups named {} (memory.limit_in_bytes, pids.max, cpu.cfs_quota_us)",
                base.display()
            ),
            Enforcement::Rlimits { why } => write!(
                f,
                "rlimits only ({why}): model memory is capped by RLIMIT_DATA, threads and CPU are not capped"
            ),
        }
    }
}

#[derive(Debug, Clone)]
enum Mode {
    V2(PathBuf),
    /// One base directory per controller: memory, pids, cpu.
    V1([PathBuf; 3]),
    None,
}

/// Where this server makes its cells' groups.
#[derive(Debug, Clone)]
pub(crate) struct Groups {
    mode: Mode,
    pub enforcement: Enforcement,
}

const V1_CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

impl Groups {
    /// Finds a hierarchy under `root` (`None`: cgroups off) and makes `tag` (this server's
    /// group) in it, with `self_cgroup` the text of `/proc/self/cgroup`.
    pub fn detect(root: Option<&Path>, self_cgroup: &str, tag: &str) -> Groups {
        let Some(root) = root else {
            return Groups::none("cgroups are turned off (cell_cgroup_root is empty)".into());
        };
        let attempt = if root.join("cgroup.controllers").is_file() {
            v2(root, self_cgroup, tag)
                .map(|b| (Mode::V2(b.clone()), Enforcement::CgroupV2 { base: b }))
        } else {
            v1(root, self_cgroup, tag).map(|dirs| {
                let base = PathBuf::from(format!("{}/{{memory,pids,cpu}}/…/{tag}", root.display()));
                (Mode::V1(dirs), Enforcement::CgroupV1 { base })
            })
        };
        match attempt {
            Ok((mode, enforcement)) => Groups { mode, enforcement },
            Err(why) => Groups::none(why),
        }
    }

    fn none(why: String) -> Groups {
        Groups {
            mode: Mode::None,
            enforcement: Enforcement::Rlimits { why },
        }
    }

    /// Whether memory must be capped by `RLIMIT_DATA` in the process itself.
    pub fn needs_rlimit(&self) -> bool {
        matches!(self.mode, Mode::None)
    }

    /// A group for one cell, with `limits` written.
    pub fn create(&self, name: &str, limits: &CellLimits) -> Result<Option<CellGroup>, String> {
        let dirs: Vec<PathBuf> = match &self.mode {
            Mode::None => return Ok(None),
            Mode::V2(base) => vec![base.join(name)],
            Mode::V1(bases) => bases.iter().map(|b| b.join(name)).collect(),
        };
        for d in &dirs {
            if d.exists() {
                let _ = fs::remove_dir(d);
            }
            fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        let group = CellGroup {
            v2: matches!(self.mode, Mode::V2(_)),
            dirs,
        };
        group.set(limits)?;
        Ok(Some(group))
    }

    /// Removes this server's base groups (they must be empty by then).
    pub fn remove(&self) {
        let bases: Vec<&PathBuf> = match &self.mode {
            Mode::None => vec![],
            Mode::V2(b) => vec![b],
            Mode::V1(bs) => bs.iter().collect(),
        };
        for b in bases {
            let _ = fs::remove_dir(b);
        }
    }
}

/// One cell's group (one directory in v2, one per controller in v1); removed on drop.
#[derive(Debug)]
pub(crate) struct CellGroup {
    v2: bool,
    dirs: Vec<PathBuf>,
}

impl CellGroup {
    pub fn set(&self, l: &CellLimits) -> Result<(), String> {
        let num = |v: Option<u64>, none: &str| v.map_or(none.to_owned(), |v| v.to_string());
        if self.v2 {
            let d = &self.dirs[0];
            write(&d.join("memory.max"), &num(l.memory_bytes, "max"))?;
            // Swap would let a cell past its memory cap at the disk's expense.
            let _ = write(&d.join("memory.swap.max"), "0");
            write(&d.join("pids.max"), &num(l.threads, "max"))?;
            let cpu = l
                .cpu_percent
                .map_or("max".to_owned(), |p| (p * 1000).to_string());
            write(&d.join("cpu.max"), &format!("{cpu} 100000"))?;
        } else {
            let mem = num(l.memory_bytes, "-1");
            write(&self.dirs[0].join("memory.limit_in_bytes"), &mem)?;
            let _ = write(&self.dirs[0].join("memory.memsw.limit_in_bytes"), &mem);
            write(&self.dirs[1].join("pids.max"), &num(l.threads, "max"))?;
            write(&self.dirs[2].join("cpu.cfs_period_us"), "100000")?;
            let quota = l
                .cpu_percent
                .map_or("-1".to_owned(), |p| (p * 1000).to_string());
            write(&self.dirs[2].join("cpu.cfs_quota_us"), &quota)?;
        }
        Ok(())
    }

    /// Moves the process into every directory of the group.
    pub fn attach(&self, pid: u32) -> Result<(), String> {
        for d in &self.dirs {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// OOM kills the group has seen.
    pub fn oom_kills(&self) -> u64 {
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let text = fs::read_to_string(self.dirs[0].join(file)).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for CellGroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            // The kernel frees a group a moment after its last process is reaped.
            for _ in 0..50 {
                if fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

/// This process's path in the hierarchy of `controller` (`""` for v2's unified line).
fn own_path(self_cgroup: &str, controller: &str) -> Option<String> {
    self_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = match controller {
            "" => names.is_empty(),
            c => names.split(',').any(|n| n == c),
        };
        hit.then(|| path.trim_start_matches('/').to_owned())
    })
}

fn v1(root: &Path, self_cgroup: &str, tag: &str) -> Result<[PathBuf; 3], String> {
    let mut dirs = Vec::new();
    for c in V1_CONTROLLERS {
        let mount = root.join(c);
        if !mount.is_dir() {
            return Err(format!("no {c} hierarchy at {}", mount.display()));
        }
        let own = own_path(self_cgroup, c)
            .ok_or_else(|| format!("no {c} controller in /proc/self/cgroup"))?;
        reap_stale(&mount.join(&own));
        if c == "cpu" {
            server_leaf(&mount.join(&own));
        }
        let base = mount.join(own).join(tag);
        fs::create_dir_all(&base)
            .map_err(|e| format!("cannot create the {c} group {}: {e}", base.display()))?;
        dirs.push(base);
    }
    Ok(dirs.try_into().unwrap())
}

/// Removes the groups of servers that died without removing theirs (`ferroserve-PID`
/// whose PID is gone; a SIGKILL leaves them): their cells died with them, so they are
/// empty, and an empty group is removed with `rmdir`.
fn reap_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("ferroserve-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(cells) = fs::read_dir(e.path()) {
            for c in cells.flatten().filter(|c| c.path().is_dir()) {
                let _ = fs::remove_dir(c.path());
            }
        }
        let _ = fs::remove_dir(e.path());
    }
}

/// In v1 a group competes with each of its parent's threads one by one: left beside its
/// cells' group, the server's dozens of threads would starve every cell of CPU at once.
/// In a leaf of its own (as v2 requires anyway) the server and its cells share CPU
/// group against group. Not fatal: the cells' limits hold either way.
fn server_leaf(own: &Path) {
    let leaf = own.join("server");
    let moved = fs::create_dir_all(&leaf)
        .map_err(|e| format!("cannot create {}: {e}", leaf.display()))
        .and_then(|()| write(&leaf.join("cgroup.procs"), &std::process::id().to_string()));
    if let Err(why) = moved {
        tracing::warn!(%why, "the server stays in its CPU group: its threads compete with the cells' group one by one");
    }
}

/// v2 has no internal processes: the server moves itself into a leaf (`server`) of its own
/// group before enabling controllers for the groups beside it.
fn v2(root: &Path, self_cgroup: &str, tag: &str) -> Result<PathBuf, String> {
    let own = own_path(self_cgroup, "").ok_or("no cgroup v2 line in /proc/self/cgroup")?;
    let own = root.join(own);
    let enable = "+memory +pids +cpu";
    if own != root {
        let leaf = own.join("server");
        fs::create_dir_all(&leaf).map_err(|e| format!("cannot create {}: {e}", leaf.display()))?;
        write(&leaf.join("cgroup.procs"), &std::process::id().to_string())?;
    }
    write(&own.join("cgroup.subtree_control"), enable)?;
    reap_stale(&own);
    let base = own.join(tag);
    fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    write(&base.join("cgroup.subtree_control"), enable)?;
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_get_the_cores_of_the_cpu_grant_rounded_up() {
        let threads = |cpu_percent| {
            CellLimits {
                cpu_percent,
                ..CellLimits::default()
            }
            .forward_threads()
        };
        assert_eq!(threads(None), None);
        assert_eq!(threads(Some(1)), Some(1));
        assert_eq!(threads(Some(50)), Some(1));
        assert_eq!(threads(Some(100)), Some(1));
        assert_eq!(threads(Some(101)), Some(2));
        assert_eq!(threads(Some(100_000)), Some(1000));
        assert_eq!(
            threads(Some(u64::MAX)),
            Some(usize::try_from(u64::MAX / 100 + 1).unwrap())
        );
    }

    const V1_SELF: &str =
        "12:pids:/user.slice\n4:memory:/user.slice\n3:cpu,cpuacct:/user.slice\n0::/user.slice\n";

    #[test]
    fn v1_groups_get_each_limit_in_its_controller() {
        let root = tempfile::tempdir().unwrap();
        for c in V1_CONTROLLERS {
            fs::create_dir_all(root.path().join(c).join("user.slice")).unwrap();
        }
        let g = Groups::detect(Some(root.path()), V1_SELF, "ferroserve-1");
        assert!(
            matches!(g.enforcement, Enforcement::CgroupV1 { .. }),
            "{}",
            g.enforcement
        );
        let limits = CellLimits {
            memory_bytes: Some(1 << 30),
            threads: Some(64),
            cpu_percent: Some(150),
        };
        let cell = g.create("cell-a", &limits).unwrap().unwrap();
        let read = |c: &str, f: &str| {
            fs::read_to_string(
                root.path()
                    .join(c)
                    .join("user.slice/ferroserve-1/cell-a")
                    .join(f),
            )
            .unwrap()
        };
        assert_eq!(read("memory", "memory.limit_in_bytes"), "1073741824");
        assert_eq!(read("pids", "pids.max"), "64");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "150000");
        let server = |c: &str| {
            fs::read_to_string(root.path().join(c).join("user.slice/server/cgroup.procs")).ok()
        };
        assert_eq!(server("cpu"), Some(std::process::id().to_string()));
        assert_eq!(
            server("memory"),
            None,
            "only the CPU share moves the server"
        );
        fs::write(
            root.path()
                .join("memory/user.slice/ferroserve-1/cell-a/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(cell.oom_kills(), 2);
    }

    #[test]
    fn groups_left_by_a_server_that_died_are_removed_and_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let own = |c: &str| root.path().join(c).join("user.slice");
        for c in V1_CONTROLLERS {
            // No process has a PID this high (pid_max is at most 2^22).
            fs::create_dir_all(own(c).join("ferroserve-999999999/cell-a")).unwrap();
            fs::create_dir_all(own(c).join("ferroserve-1/cell-b")).unwrap();
            fs::create_dir_all(own(c).join("ferroserve-x")).unwrap();
        }
        let tag = format!("ferroserve-{}", std::process::id());
        let g = Groups::detect(Some(root.path()), V1_SELF, &tag);
        assert!(matches!(g.enforcement, Enforcement::CgroupV1 { .. }));
        for c in V1_CONTROLLERS {
            assert!(!own(c).join("ferroserve-999999999").exists(), "{c}");
            assert!(
                own(c).join("ferroserve-1/cell-b").is_dir(),
                "{c}: a live server's"
            );
            assert!(
                own(c).join("ferroserve-x").is_dir(),
                "{c}: not ours to judge"
            );
            assert!(own(c).join(&tag).is_dir(), "{c}");
        }
    }

    #[test]
    fn v2_moves_the_server_into_a_leaf_and_writes_the_unified_files() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
        fs::create_dir_all(root.path().join("kubepods/pod1")).unwrap();
        let g = Groups::detect(Some(root.path()), "0::/kubepods/pod1\n", "ferroserve-1");
        let Enforcement::CgroupV2 { base } = &g.enforcement else {
            panic!("{}", g.enforcement)
        };
        assert_eq!(base, &root.path().join("kubepods/pod1/ferroserve-1"));
        let leaf = fs::read_to_string(root.path().join("kubepods/pod1/server/cgroup.procs"));
        assert_eq!(leaf.unwrap(), std::process::id().to_string());
        let limits = CellLimits {
            memory_bytes: Some(256 << 20),
            threads: None,
            cpu_percent: None,
        };
        let _cell = g.create("cell-b", &limits).unwrap().unwrap();
        let read = |f: &str| fs::read_to_string(base.join("cell-b").join(f)).unwrap();
        assert_eq!(read("memory.max"), "268435456");
        assert_eq!(read("pids.max"), "max");
        assert_eq!(read("cpu.max"), "max 100000");
    }

    #[test]
    fn without_a_writable_hierarchy_it_falls_back_and_says_why() {
        let root = tempfile::tempdir().unwrap();
        let g = Groups::detect(Some(root.path()), V1_SELF, "ferroserve-1");
        let Enforcement::Rlimits { why } = &g.enforcement else {
            panic!("{}", g.enforcement)
        };
        assert!(why.contains("memory"), "{why}");
        assert!(g.needs_rlimit());
        assert!(
            g.create("cell-c", &CellLimits::default())
                .unwrap()
                .is_none()
        );
        let off = Groups::detect(None, V1_SELF, "t");
        assert!(off.enforcement.to_string().contains("turned off"));
    }
}
