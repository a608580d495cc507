//! The host's CPU, memory and disk, as TorchServe's system metrics report them
//! (`CPUUtilization`, `Memory*`, `Disk*`), read from `/proc` and `statvfs(2)` at scrape time.
//! CPU utilisation is over the time since the previous scrape (since boot at the first).

use std::sync::Mutex;

/// One reading of the host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub cpu_percent: f64,
    pub memory_used_mb: f64,
    pub memory_available_mb: f64,
    pub memory_percent: f64,
    pub disk_used_gb: f64,
    pub disk_available_gb: f64,
    pub disk_percent: f64,
}

/// The CPU counters of the previous reading: (busy, total) jiffies.
#[derive(Default)]
pub struct Probe {
    last_cpu: Mutex<Option<(u64, u64)>>,
}

impl Probe {
    /// Reads the host; a source that cannot be read reads as zero (a scrape never fails).
    pub fn read(&self) -> Reading {
        let cpu = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| cpu_jiffies(&s));
        let cpu_percent = match cpu {
            None => 0.0,
            Some((busy, total)) => {
                let mut last = self.last_cpu.lock().unwrap_or_else(|e| e.into_inner());
                let (b0, t0) = last.replace((busy, total)).unwrap_or((0, 0));
                percent(
                    busy.saturating_sub(b0) as f64,
                    total.saturating_sub(t0) as f64,
                )
            }
        };
        let (mem_total, mem_available) = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .map(|s| meminfo(&s))
            .unwrap_or((0, 0));
        let mem_used = mem_total.saturating_sub(mem_available);
        let (disk_used, disk_available) = disk("/").unwrap_or((0, 0));
        const MB: f64 = (1u64 << 20) as f64;
        const GB: f64 = (1u64 << 30) as f64;
        Reading {
            cpu_percent,
            memory_used_mb: mem_used as f64 / MB,
            memory_available_mb: mem_available as f64 / MB,
            memory_percent: percent(mem_used as f64, mem_total as f64),
            disk_used_gb: disk_used as f64 / GB,
            disk_available_gb: disk_available as f64 / GB,
            disk_percent: percent(disk_used as f64, (disk_used + disk_available) as f64),
        }
    }
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

/// `/proc/stat`'s `cpu` line: (busy, total); idle and iowait are not busy.
fn cpu_jiffies(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// `/proc/meminfo`: (MemTotal, MemAvailable) in bytes.
fn meminfo(text: &str) -> (u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// (used, available to unprivileged users) bytes of the filesystem holding `path`.
fn disk(path: &str) -> Option<(u64, u64)> {
    let c_path = std::ffi::CString::new(path).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a statvfs to fill.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let frsize = s.f_frsize as u64;
    let used = (s.f_blocks as u64).saturating_sub(s.f_bfree as u64) * frsize;
    Some((used, s.f_bavail as u64 * frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(cpu_jiffies(stat), Some((150, 1000)));
        let mem = "MemTotal:       1000 kB\nMemFree:         10 kB\nMemAvailable:    250 kB\n";
        assert_eq!(meminfo(mem), (1_024_000, 256_000));
    }

    #[test]
    fn reads_this_host_within_range() {
        let probe = Probe::default();
        let _ = probe.read();
        let r = probe.read();
        for p in [r.cpu_percent, r.memory_percent, r.disk_percent] {
            assert!((0.0..=100.0).contains(&p), "{r:?}");
        }
        assert!(r.memory_used_mb > 0.0 && r.disk_used_gb > 0.0, "{r:?}");
    }
}
