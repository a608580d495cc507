//! What the binary carries for handler authors, so that no checkout is needed: the WIT
//! contract (and the JavaScript world over it), the Python and JavaScript SDKs, and
//! componentize-js's build script. `handler
//! build` writes them into the project's `.ferroserve/` before each build, so a project
//! always builds against the contract of the server binary that builds it.

use std::path::Path;

use anyhow::Context;

/// The current contract, as its file name and text.
pub const WIT: (&str, &str) = (
    "handler-0.2.0.wit",
    include_str!("../../../../wit/handler-0.2.0.wit"),
);

/// The world JavaScript handlers that read archive files build against (the handler world
/// plus the wasi:filesystem imports of [`JS_FILES`]) and the WASI packages it names,
/// relative to the WIT folder that also holds [`WIT`].
pub const JS_WIT: &[(&str, &str)] = &[
    (
        "handler-js.wit",
        include_str!("../../../../handlers-sdk-js/wit/handler-js.wit"),
    ),
    (
        "deps/filesystem.wit",
        include_str!("../../../../handlers-sdk-js/wit/deps/filesystem.wit"),
    ),
    (
        "deps/io.wit",
        include_str!("../../../../handlers-sdk-js/wit/deps/io.wit"),
    ),
    (
        "deps/clocks.wit",
        include_str!("../../../../handlers-sdk-js/wit/deps/clocks.wit"),
    ),
];

/// The world in [`JS_WIT`].
pub const JS_WORLD: &str = "handler-world-js";

/// The Python SDK package, relative to the folder put on componentize-py's path.
pub const PYTHON: &[(&str, &str)] = &[
    (
        "ferroserve_handler/__init__.py",
        include_str!("../../../../handlers-sdk-python/ferroserve_handler/__init__.py"),
    ),
    (
        "ferroserve_handler/base.py",
        include_str!("../../../../handlers-sdk-python/ferroserve_handler/base.py"),
    ),
    (
        "ferroserve_handler/errors.py",
        include_str!("../../../../handlers-sdk-python/ferroserve_handler/errors.py"),
    ),
    (
        "ferroserve_handler/files.py",
        include_str!("../../../../handlers-sdk-python/ferroserve_handler/files.py"),
    ),
    (
        "ferroserve_handler/http.py",
        include_str!("../../../../handlers-sdk-python/ferroserve_handler/http.py"),
    ),
    (
        "ferroserve_handler/logging.py",
        include_str!("../../../../handlers-sdk-python/ferroserve_handler/logging.py"),
    ),
    (
        "ferroserve_handler/tensor.py",
        include_str!("../../../../handlers-sdk-python/ferroserve_handler/tensor.py"),
    ),
];

/// The JavaScript SDK module; handlers import it as `./ferroserve-handler.js`.
pub const JS: (&str, &str) = (
    "ferroserve-handler.js",
    include_str!("../../../../handlers-sdk-js/ferroserve-handler.js"),
);

/// The JavaScript SDK's file helpers, a module of their own (they import wasi:filesystem,
/// which only [`JS_WORLD`] has); handlers import it as `./ferroserve-files.js`.
pub const JS_FILES: (&str, &str) = (
    "ferroserve-files.js",
    include_str!("../../../../handlers-sdk-js/ferroserve-files.js"),
);

/// componentize-js's Node API driver.
pub const JS_BUILD: (&str, &str) = (
    "ferroserve-build.mjs",
    include_str!("../../../../handlers-sdk-js/build.mjs"),
);

/// Writes `files` under `dir`, only where the content differs (keeps mtimes stable).
pub fn write_all(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    for (name, text) in files {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).is_ok_and(|t| t == *text) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A hash of everything the binary contributes to a build (contract and SDKs), so a
/// project rebuilds when a new binary brings a new SDK.
pub fn fingerprint() -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    WIT.hash(&mut h);
    PYTHON.hash(&mut h);
    JS.hash(&mut h);
    JS_FILES.hash(&mut h);
    JS_WIT.hash(&mut h);
    JS_BUILD.hash(&mut h);
    format!("{:016x}", h.finish())
}
