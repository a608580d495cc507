//! Archives for the end-to-end tests, built once per test process with the archive crate's
//! writer from the shared guest fixtures and the generated test models.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ferroserve_archive::{ArchiveFormat, WriteOptions, write_archive};
use ferroserve_test_fixtures as fx;
use ferroserve_torch::test_models::TestModels;

/// A model store holding `NAME.mar` for: `mlp` (MLP [4]→[3] behind the JSON `ok` handler),
/// `mlp2` (the same, version 2.0), and the hostile handlers `spin`, `membomb`, `panic`,
/// `malformed`, `many-outputs`, `big-output`, `stdout-flood`, `exit`, `sleep` and
/// `open-files` in front of the same MLP, each with a `labels.txt`; and the hostile models
/// `forever`, `wide`, `hog`, `deep_pickle`, `lying`, `reads` and `chatty` (make_test_models.py says what each
/// does) behind the `ok` handler, each archive named after its model.
pub fn store() -> &'static Path {
    static STORE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let models = TestModels::get();
            let labels = dir.path().join("labels.txt");
            std::fs::write(&labels, "zero\none\ntwo\n").unwrap();
            let hostile_models = [
                "forever",
                "wide",
                "hog",
                "deep_pickle",
                "lying",
                "reads",
                "chatty",
            ];
            for (name, version, handler) in [
                ("mlp", "1.0", fx::OK),
                ("mlp", "2.0", fx::OK),
                ("spin", "1.0", fx::SPIN),
                ("membomb", "1.0", fx::MEMBOMB),
                ("panic", "1.0", fx::PANIC),
                ("malformed", "1.0", fx::MALFORMED),
                ("many-outputs", "1.0", fx::MANY_OUTPUTS),
                ("big-output", "1.0", fx::BIG_OUTPUT),
                ("stdout-flood", "1.0", fx::STDOUT_FLOOD),
                ("exit", "1.0", fx::EXIT),
                ("sleep", "1.0", fx::SLEEP),
                ("open-files", "1.0", fx::OPEN_FILES),
            ]
            .into_iter()
            .chain(hostile_models.map(|m| (m, "1.0", fx::OK)))
            {
                let model = if hostile_models.contains(&name) {
                    models.model(name)
                } else {
                    models.model("mlp")
                };
                let out = dir.path().join(format!("build-{name}-{version}"));
                std::fs::create_dir(&out).unwrap();
                let (path, _) = write_archive(&WriteOptions {
                    model_name: name.into(),
                    version: version.into(),
                    serialized_file: model,
                    handler: PathBuf::from(handler),
                    // open-files opens /labels.txt; the others ignore it.
                    extra_files: vec![labels.clone()],
                    config_file: None,
                    export_path: out.clone(),
                    force: true,
                    format: ArchiveFormat::Default,
                })
                .unwrap();
                let file = if version == "1.0" {
                    format!("{name}.mar")
                } else {
                    format!("{name}-{version}.mar")
                };
                std::fs::rename(path, dir.path().join(file)).unwrap();
                std::fs::remove_dir(out).unwrap();
            }
            dir
        })
        .path()
}
