use super::*;
use crate::ServerConfig;

fn translated(text: &str) -> Result<Translation, String> {
    translate(parse_properties(text)?, Vec::new())
}

/// The translation layered onto the defaults, as `serve --ts-config` does.
fn config(text: &str) -> ServerConfig {
    let t = translated(text).unwrap();
    ServerConfig::layered(t.table, toml::Table::new()).unwrap()
}

fn outcome<'a>(t: &'a Translation, key: &str) -> &'a Outcome {
    &t.notes.iter().find(|n| n.key == key).unwrap().outcome
}

/// KServe's sample, as it mounts it at /mnt/models/config/config.properties.
const KSERVE: &str = include_str!("../../../tests/fixtures/kserve-config.properties");

#[test]
fn kserves_sample_is_read_whole() {
    let t = translated(KSERVE).unwrap();
    let c = ServerConfig::layered(t.table.clone(), toml::Table::new()).unwrap();
    assert_eq!(c.inference_address.to_string(), "0.0.0.0:8085");
    assert_eq!(c.management_address, c.inference_address);
    assert_eq!(c.metrics_address.to_string(), "0.0.0.0:8082");
    assert_eq!(
        c.model_store.unwrap().to_str(),
        Some("/mnt/models/model-store")
    );
    assert_eq!(c.job_queue_size, 10);
    assert_eq!(
        c.startup_models,
        vec![StartupModel {
            name: "mnist".into(),
            archive: "mnist.mar".into(),
            batch_size: Some(2),
            max_batch_delay_ms: Some(500),
            min_workers: Some(1),
            max_workers: Some(5),
            response_timeout_s: Some(60),
            default_version: true,
        }]
    );
    assert!(matches!(
        outcome(&t, "number_of_netty_threads"),
        Outcome::Ignored(_)
    ));
    assert!(matches!(
        outcome(&t, "grpc_inference_port"),
        Outcome::Ignored(_)
    ));
    assert!(
        t.notes.iter().all(|n| n.outcome != Outcome::Unknown),
        "{:?}",
        t.notes
    );
}

#[test]
fn java_properties_syntax() {
    let c = config(
        "# a comment\n! another\ninference_address : http://127.0.0.1:9000\n\
         job_queue_size 7\nmodel_store=/srv/\\\n  store\n",
    );
    assert_eq!(c.inference_address.to_string(), "127.0.0.1:9000");
    assert_eq!(c.job_queue_size, 7);
    assert_eq!(c.model_store.unwrap().to_str(), Some("/srv/store"));
}

#[test]
fn load_models_forms() {
    assert_eq!(config("load_models=all").models, ["all"]);
    assert_eq!(config("load_models=ALL").models, ["all"]);
    assert_eq!(
        config("load_models=a.mar, b=b-1.mar").models,
        ["a.mar", "b=b-1.mar"]
    );
    assert!(config("load_models=standalone").models.is_empty());
}

#[test]
fn model_snapshot_takes_the_place_of_load_models() {
    let t = translated(
        "load_models=other.mar\nmodel_snapshot={\"models\":{\"m\":{\"2.0\":{\"marName\":\"m.mar\"}}}}",
    )
    .unwrap();
    assert!(matches!(outcome(&t, "load_models"), Outcome::Ignored(_)));
    let c = ServerConfig::layered(t.table, toml::Table::new()).unwrap();
    assert!(c.models.is_empty());
    assert_eq!(c.startup_models[0].archive, "m.mar");
    assert_eq!(c.startup_models[0].batch_size, None);
}

#[test]
fn workers_and_timeouts() {
    let c =
        config("default_workers_per_model=3\ndefault_response_timeout=30\nmax_request_size=100");
    assert_eq!((c.min_workers, c.max_workers), (3, 3));
    assert_eq!(c.response_timeout_s, 30);
    assert_eq!(c.max_request_size, 100);
}

#[test]
fn bad_values_name_the_key() {
    for bad in [
        "job_queue_size=lots",
        "job_queue_size=-1",
        "default_workers_per_model=99999999999999999999",
        "inference_address=https://0.0.0.0:8443",
        "inference_address=unix:/tmp/ts.sock",
        "inference_address=http://0.0.0.0:http",
        "model_store=$$NO_SUCH_VARIABLE$$",
        "model_snapshot={not json",
        "models=[1,2]",
        "metrics_mode=statsd",
        "allowed_urls=https://(a|b).example.com/.*",
        "allowed_urls=.*",
    ] {
        let e = translated(bad).unwrap_err();
        let key = bad.split('=').next().unwrap();
        assert!(e.starts_with(&format!("{key}=")), "{bad}: {e}");
    }
}

#[test]
fn allowed_url_regexes_become_prefixes() {
    let c = config(
        r"allowed_urls=file://.*|http(s)?://models\.example\.com/.*,https://s3.amazonaws.com/bucket/.*",
    );
    assert_eq!(
        c.allowed_urls,
        [
            "http://models.example.com/",
            "https://models.example.com/",
            "https://s3.amazonaws.com/bucket/",
        ]
    );
}

#[test]
fn unknown_and_meaningless_keys_are_never_fatal() {
    let t = translated("no_such_key=1\nvmargs=-Xmx4g\ninstall_py_dep_per_model=true").unwrap();
    assert_eq!(outcome(&t, "no_such_key"), &Outcome::Unknown);
    assert!(matches!(outcome(&t, "vmargs"), Outcome::Ignored(_)));
    ServerConfig::layered(t.table, toml::Table::new()).unwrap();
}

#[test]
fn environment_overrides_only_when_enabled() {
    let env = || vec![("TS_JOB_QUEUE_SIZE".to_string(), "9".to_string())];
    let on = translate(
        parse_properties("enable_envvars_config=true\njob_queue_size=1").unwrap(),
        env(),
    )
    .unwrap();
    assert_eq!(on.table["job_queue_size"].as_integer(), Some(9));
    let off = translate(parse_properties("job_queue_size=1").unwrap(), env()).unwrap();
    assert_eq!(off.table["job_queue_size"].as_integer(), Some(1));
}

#[test]
fn number_of_gpu_picks_the_device() {
    assert_eq!(config("number_of_gpu=0").device, "cpu");
    assert_eq!(config("number_of_gpu=2").device, "cuda");
}

#[test]
fn torchserves_defaults_where_they_differ() {
    let c = config("");
    assert_eq!(
        c.key_file.as_deref(),
        Some(std::path::Path::new("key_file.json"))
    );
    assert!(c.create_key_file && !c.model_api);
    assert_eq!(c.metrics_names, "torchserve");
    let c = config("disable_token_authorization=true\nenable_model_api=true");
    assert!(c.key_file.is_none() && !c.create_key_file && c.model_api);
}

#[test]
fn dollar_variables_and_default_ports() {
    let t = translate(
        parse_properties("model_store=$$STORE$$/x\nmanagement_address=http://127.0.0.1").unwrap(),
        vec![("STORE".to_string(), "/srv".to_string())],
    )
    .unwrap();
    let c = ServerConfig::layered(t.table, toml::Table::new()).unwrap();
    assert_eq!(c.model_store.unwrap().to_str(), Some("/srv/x"));
    assert_eq!(c.management_address.to_string(), "127.0.0.1:8081");
}

#[test]
fn a_snapshot_with_no_models_counted_loads_none() {
    let c = config(r#"model_snapshot={"modelCount":0,"models":{"m":{"1.0":{"marName":"m.mar"}}}}"#);
    assert!(c.startup_models.is_empty());
}
