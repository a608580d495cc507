//! `ferroserve_state_dir_bytes{part}`: what the state directory holds, by part (kept
//! archives, extracted model files, the compiled-handler cache), measured at scrape time,
//! so an operator sees disk used by uploads and models before the disk fills.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use prometheus::{IntGaugeVec, Opts, Registry};

/// The parts, as `<state_dir>/<dir>` and their label.
const PARTS: [(&str, &str); 3] = [
    ("archives", "archives"),
    ("work", "model_files"),
    ("wasm-cache", "compile_cache"),
];

pub(crate) struct StateDir {
    gauge: IntGaugeVec,
    dir: OnceLock<PathBuf>,
}

impl StateDir {
    pub(crate) fn register(registry: &Registry) -> StateDir {
        let gauge = IntGaugeVec::new(
            Opts::new(
                "ferroserve_state_dir_bytes",
                "Bytes under the state directory, by part",
            ),
            &["part"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(gauge.clone()))
            .expect("unique metric");
        StateDir {
            gauge,
            dir: OnceLock::new(),
        }
    }

    pub(crate) fn watch(&self, dir: PathBuf) {
        let _ = self.dir.set(dir);
    }

    pub(crate) fn refresh(&self) {
        let Some(dir) = self.dir.get() else { return };
        for (sub, part) in PARTS {
            let bytes = i64::try_from(usage(&dir.join(sub))).unwrap_or(i64::MAX);
            self.gauge.with_label_values(&[part]).set(bytes);
        }
    }
}

/// Bytes of the regular files under `path` (0 when it is missing).
fn usage(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => usage(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_adds_up_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work/m/files")).unwrap();
        std::fs::write(dir.path().join("work/m/model.pt"), [0; 10]).unwrap();
        std::fs::write(dir.path().join("work/m/files/x"), [0; 5]).unwrap();
        let registry = Registry::new();
        let s = StateDir::register(&registry);
        s.watch(dir.path().to_path_buf());
        s.refresh();
        assert_eq!(s.gauge.with_label_values(&["model_files"]).get(), 15);
        assert_eq!(s.gauge.with_label_values(&["archives"]).get(), 0);
    }
}
