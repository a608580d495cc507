use super::*;
use crate::{ServerConfig, StartupModel};

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
const KSERVE: &str = include_str!("../../../../tests/fixtures/kserve-config.properties");

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
    assert_eq!(
        outcome(&t, "grpc_inference_port"),
        &Outcome::Mapped(vec!["grpc_inference_address"])
    );
    assert_eq!(
        t.table["grpc_inference_address"].as_str(),
        Some("127.0.0.1:7070")
    );
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

#[test]
fn allowed_urls_from_the_environment_only_when_the_file_allows_it() {
    let env = || {
        vec![(
            "TS_ALLOWED_URLS".to_string(),
            "https://evil.example/.*".to_string(),
        )]
    };
    let base = "enable_envvars_config=true\nallowed_urls=https://models.example/.*\n";
    let c = |text: &str| {
        let t = translate(parse_properties(text).unwrap(), env()).unwrap();
        ServerConfig::layered(t.table, toml::Table::new())
            .unwrap()
            .allowed_urls
    };
    assert_eq!(c(base), ["https://models.example/"]);
    assert_eq!(
        c(&format!("{base}use_env_allowed_urls=true\n")),
        ["https://evil.example/"]
    );
}

#[test]
fn every_documented_key_is_known() {
    // The keys of TorchServe 0.12's ConfigManager and launcher (docs/torchserve.md).
    let text = "inference_address=http://127.0.0.1:8080\nmanagement_address=http://127.0.0.1:8081\n\
        metrics_address=http://127.0.0.1:8082\ngrpc_inference_address=127.0.0.1\n\
        grpc_management_address=127.0.0.1\ngrpc_inference_port=7070\ngrpc_management_port=7071\n\
        grpc_inference_max_connection_age_ms=1\ngrpc_management_max_connection_age_ms=1\n\
        grpc_inference_max_connection_age_grace_ms=1\ngrpc_management_max_connection_age_grace_ms=1\n\
        enable_grpc_ssl=false\nts_open_inference_protocol=false\nmodel_store=/m\nworkflow_store=/w\n\
        load_models=all\ndefault_workers_per_model=1\nnumber_of_gpu=0\njob_queue_size=100\n\
        default_response_timeout=120\ndefault_startup_timeout=120\nunregister_model_timeout=120\n\
        max_request_size=6553500\nmax_response_size=6553500\nnumber_of_netty_threads=0\n\
        netty_client_threads=0\nallowed_urls=https://x.example/.*\nuse_env_allowed_urls=false\n\
        metrics_mode=prometheus\nmetrics_config=/c.yaml\nmodel_metrics_auto_detect=false\n\
        enable_metrics_api=true\ndisable_system_metrics=false\nsystem_metrics_cmd=\n\
        metric_time_interval=60\ndisable_token_authorization=true\ntoken_expiration_min=60\n\
        enable_model_api=true\nservice_envelope=kserve\ndefault_service_handler=x\n\
        install_py_dep_per_model=false\nblacklist_env_vars=\ndecode_input_request=true\n\
        limit_max_image_pixels=true\nprefer_direct_buffer=false\nasync_logging=false\n\
        cors_allowed_origin=*\ncors_allowed_methods=GET\ncors_allowed_headers=*\nkeystore=k\n\
        keystore_pass=p\nkeystore_type=PKCS12\nprivate_key_file=k\ncertificate_file=c\n\
        model_server_home=/h\ninitial_worker_port=9000\ninitial_distribution_port=29500\n\
        cpp_log_config=l\nipex_enable=false\nipex_gpu_enable=false\ncpu_launcher_enable=false\n\
        cpu_launcher_args=\nts_header_key_sequence_id=a\nts_header_key_sequence_start=b\n\
        ts_header_key_sequence_end=c\ndebug=false\nuse_native_io=true\nio_ratio=50\n\
        enable_envvars_config=false\nvmargs=-Xmx1g\nplugins_path=/p\nmodels={}\n\
        model_snapshot={\"models\":{}}\n";
    let t = translated(text).unwrap();
    let unknown: Vec<&str> = t
        .notes
        .iter()
        .filter(|n| n.outcome == Outcome::Unknown)
        .map(|n| n.key.as_str())
        .collect();
    assert!(unknown.is_empty(), "{unknown:?}");
    ServerConfig::layered(t.table, toml::Table::new()).unwrap();
}

#[test]
fn grpc_hosts_and_ports_combine_in_either_order() {
    let t = translated("grpc_inference_port=9000\ngrpc_inference_address=0.0.0.0\n").unwrap();
    assert_eq!(
        t.table["grpc_inference_address"].as_str(),
        Some("0.0.0.0:9000")
    );
    let t = translated("grpc_management_address=0.0.0.0\n").unwrap();
    assert_eq!(
        t.table["grpc_management_address"].as_str(),
        Some("0.0.0.0:7071")
    );
    let e = translated("enable_grpc_ssl=true\n").unwrap_err();
    assert!(e.contains("enable_grpc_ssl") && e.contains("TLS"), "{e}");
    assert!(translated("enable_grpc_ssl=false\n").is_ok());
    let e = translated("grpc_inference_address=http://x\n").unwrap_err();
    assert!(e.contains("grpc_inference_address"), "{e}");
}
