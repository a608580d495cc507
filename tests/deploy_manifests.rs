//! deploy/'s Kubernetes and KServe manifests, validated offline by `deploy/validate.py`
//! (Kubernetes' schemas from kubernetes-validate, KServe's from its vendored CRDs): the
//! tree as committed passes (and so does what `kustomize build` renders from it), and a
//! copy broken in several ways fails naming each break.

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> String {
    std::env::var("FERROSERVE_PYTHON")
        .unwrap_or_else(|_| "/root/.cache/ferroserve/venv/bin/python".into())
}

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// What `scripts/NAME` prints: the path of the tool it installs when missing (the test
/// command runs each first).
fn installed(name: &str) -> String {
    let out = Command::new("bash")
        .arg(deploy().join("../scripts").join(name))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn validate(dir: &Path) -> (bool, String) {
    let out = Command::new(python())
        .arg(dir.join("validate.py"))
        .arg(dir)
        // kustomize, and the npm prefix with prometheus-operator's validators.
        .env("KUSTOMIZE", installed("kustomize.sh"))
        .env("NPM_VALIDATORS", installed("npm-validators.sh"))
        .output()
        .expect("the venv's python (scripts/setup.sh makes it)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_committed_manifests_are_valid() {
    let (ok, out) = validate(&deploy());
    assert!(ok, "{out}");
    let checked: usize = out
        .lines()
        .find_map(|l| l.strip_suffix(" manifests checked, 0 problems"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(checked >= 10, "{out}");
    assert!(
        out.contains("kubernetes/base: 7 objects"),
        "kustomize build's objects are checked too:\n{out}"
    );
}

#[test]
fn broken_manifests_are_refused_each_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("deploy");
    copy_tree(&deploy(), &copy);
    let base = copy.join("kubernetes/base");
    // A misspelt field, a wrong type, an unknown kind, a KServe field of the wrong type, a
    // ServiceMonitor field of the wrong type,
    // a kustomization naming a missing file, and a file that is not YAML.
    edit(
        &base.join("deployment.yaml"),
        "terminationGracePeriodSeconds",
        "terminationGracePeriodSecond",
    );
    edit(&base.join("hpa.yaml"), "minReplicas: 2", "minReplicas: two");
    edit(
        &copy.join("kubernetes/servicemonitor.yaml"),
        "interval: 15s",
        "interval: [15s]",
    );
    edit(
        &copy.join("kserve/inferenceservice-canary.yaml"),
        "canaryTrafficPercent: 10",
        "canaryTrafficPercent: ten",
    );
    edit(
        &base.join("kustomization.yaml"),
        "  - pdb.yaml",
        "  - pdb.yaml\n  - missing.yaml",
    );
    std::fs::write(
        copy.join("extra.yaml"),
        "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n",
    )
    .unwrap();
    std::fs::write(copy.join("bad.yaml"), "key: [unclosed\n").unwrap();
    let (ok, out) = validate(&copy);
    assert!(!ok, "{out}");
    for named in [
        "'terminationGracePeriodSecond' was unexpected",
        "minReplicas: 'two' is not of type 'integer'",
        "canaryTrafficPercent: 'ten' is not of type 'integer'",
        "names missing.yaml, which does not exist",
        "kustomize build failed",
        "ServiceMonitor /spec/endpoints/0/interval must be string",
        "example.com/v1 Gadget is not a Kubernetes",
        "bad.yaml: not YAML",
    ] {
        assert!(out.contains(named), "{named:?} missing from:\n{out}");
    }
}
