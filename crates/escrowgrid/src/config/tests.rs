use std::collections::HashMap;

use clap::Parser;

use super::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn no_env() -> impl Fn(&str) -> Option<String> + use<> {
    |_| None
}

#[derive(Parser)]
struct TestCli {
    #[command(flatten)]
    args: SettingsArgs,
}

fn flags(list: &[&str]) -> SettingsArgs {
    let argv = std::iter::once("escrowgrid").chain(list.iter().copied());
    TestCli::try_parse_from(argv).expect("flags parse").args
}

#[test]
fn defaults_match_the_original_service() {
    let s = Settings::from_layers(None, &no_env(), &SettingsArgs::default()).expect("valid");
    assert_eq!(s.server.port, 4000);
    assert_eq!(s.server.host.to_string(), "0.0.0.0");
    assert_eq!(s.store.backend, StoreBackend::Memory);
    assert!(s.store.migrate_on_start);
    assert!(!s.rate_limit.enabled);
    assert_eq!(
        (s.rate_limit.window_ms, s.rate_limit.max_requests),
        (60_000, 1000)
    );
    assert!(s.http.metrics_enabled);
    assert!(!s.http.public_docs_enabled);
    assert!(!s.http.trust_proxy);
    assert_eq!(s.log.format, LogFormat::Auto);
    assert!(s.auth.root_api_key.is_none());
    assert!(!s.production());
}

#[test]
fn the_example_file_parses_to_the_defaults() {
    let s = Settings::from_layers(Some(EXAMPLE_TOML), &no_env(), &SettingsArgs::default())
        .expect("valid");
    assert_eq!(s, Settings::default());
}

#[test]
fn flags_beat_env_which_beats_the_file_which_beats_defaults() {
    let file = "[server]\nport = 5000\nrequest_timeout_ms = 7\n[rate_limit]\nwindow_ms = 10\nmax_requests = 3\n";
    let env = env_of(&[("PORT", "6000"), ("RATE_LIMIT_WINDOW_MS", "20")]);

    let s = Settings::from_layers(Some(file), &env, &flags(&["--port", "7000"])).expect("valid");

    assert_eq!(s.server.port, 7000, "flag wins over env and file");
    assert_eq!(s.rate_limit.window_ms, 20, "env wins over file");
    assert_eq!(s.rate_limit.max_requests, 3, "file wins over default");
    assert_eq!(s.server.request_timeout_ms, 7, "file wins over default");
    assert_eq!(
        s.server.shutdown_timeout_ms, 10_000,
        "default when nobody sets it"
    );
}

#[test]
fn only_the_exact_string_true_enables_opt_in_flags() {
    for (value, expected) in [
        ("true", true),
        ("TRUE", false),
        ("1", false),
        ("yes", false),
    ] {
        let env = env_of(&[
            ("RATE_LIMIT_ENABLED", value),
            ("PUBLIC_DOCS_ENABLED", value),
            ("TRUST_PROXY", value),
        ]);
        let s = Settings::from_layers(None, &env, &SettingsArgs::default()).expect("valid");
        assert_eq!(s.rate_limit.enabled, expected, "{value}");
        assert_eq!(s.http.public_docs_enabled, expected, "{value}");
        assert_eq!(s.http.trust_proxy, expected, "{value}");
    }
}

#[test]
fn only_the_exact_string_false_disables_metrics() {
    for (value, expected) in [("false", false), ("0", true), ("no", true), ("true", true)] {
        let env = env_of(&[("METRICS_ENABLED", value)]);
        let s = Settings::from_layers(None, &env, &SettingsArgs::default()).expect("valid");
        assert_eq!(s.http.metrics_enabled, expected, "{value}");
    }
}

#[test]
fn the_console_is_on_by_default_and_only_the_exact_string_false_disables_it() {
    let s = Settings::from_layers(None, &no_env(), &SettingsArgs::default()).expect("valid");
    assert!(s.http.console_enabled);
    for (value, expected) in [("false", false), ("0", true), ("off", true), ("true", true)] {
        let env = env_of(&[("CONSOLE_ENABLED", value)]);
        let s = Settings::from_layers(None, &env, &SettingsArgs::default()).expect("valid");
        assert_eq!(s.http.console_enabled, expected, "{value}");
    }
    let args = SettingsArgs {
        console_enabled: Some(false),
        ..SettingsArgs::default()
    };
    let s = Settings::from_layers(None, &no_env(), &args).expect("valid");
    assert!(!s.http.console_enabled, "the flag wins");
}

#[test]
fn a_garbage_port_is_an_error_naming_the_variable() {
    let err = Settings::from_layers(None, &env_of(&[("PORT", "abc")]), &SettingsArgs::default())
        .expect_err("garbage port");
    let text = err.to_string();
    assert!(text.contains("PORT") && text.contains("abc"), "{text}");
}

#[test]
fn a_blank_variable_counts_as_unset() {
    let env = env_of(&[("PORT", "  "), ("STORE_BACKEND", "")]);
    let s = Settings::from_layers(None, &env, &SettingsArgs::default()).expect("valid");
    assert_eq!(s.server.port, 4000);
    assert_eq!(s.store.backend, StoreBackend::Memory);
}

#[test]
fn an_unknown_store_backend_is_an_error() {
    let err = Settings::from_layers(
        None,
        &env_of(&[("STORE_BACKEND", "mongo")]),
        &SettingsArgs::default(),
    )
    .expect_err("unknown backend");
    assert!(err.to_string().contains("STORE_BACKEND"), "{err}");
}

#[test]
fn postgres_without_a_database_url_is_an_error() {
    let err = Settings::from_layers(
        None,
        &env_of(&[("STORE_BACKEND", "postgres")]),
        &SettingsArgs::default(),
    )
    .expect_err("missing url");
    assert!(
        err.to_string()
            .contains("DATABASE_URL is required when STORE_BACKEND=postgres"),
        "{err}"
    );
}

#[test]
fn lists_are_split_on_commas_and_trimmed() {
    let env = env_of(&[
        ("ROOT_API_KEY_ALLOWED_IPS", " 10.0.0.1, ::1 ,"),
        (
            "CORS_ALLOWED_ORIGINS",
            "https://a.example, https://b.example",
        ),
    ]);
    let s = Settings::from_layers(None, &env, &SettingsArgs::default()).expect("valid");
    let ips: Vec<String> = s
        .auth
        .root_api_key_allowed_ips
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ips, ["10.0.0.1", "::1"]);
    assert_eq!(
        s.http.cors_allowed_origins.as_deref(),
        Some(
            &[
                "https://a.example".to_owned(),
                "https://b.example".to_owned()
            ][..]
        )
    );
}

#[test]
fn an_invalid_allowed_ip_is_an_error() {
    let env = env_of(&[("ROOT_API_KEY_ALLOWED_IPS", "10.0.0.1,not-an-ip")]);
    let err = Settings::from_layers(None, &env, &SettingsArgs::default()).expect_err("bad ip");
    assert!(
        err.to_string().contains("ROOT_API_KEY_ALLOWED_IPS"),
        "{err}"
    );
}

#[test]
fn boolean_flags_accept_a_bare_form_and_an_explicit_value() {
    let env = env_of(&[("RATE_LIMIT_ENABLED", "true"), ("METRICS_ENABLED", "true")]);
    let args = flags(&[
        "--rate-limit-enabled=false",
        "--metrics-enabled=false",
        "--trust-proxy",
        "--no-migrate",
    ]);
    let s = Settings::from_layers(None, &env, &args).expect("valid");
    assert!(!s.rate_limit.enabled);
    assert!(!s.http.metrics_enabled);
    assert!(s.http.trust_proxy);
    assert!(!s.store.migrate_on_start);
}

#[test]
fn unknown_keys_in_the_file_are_rejected() {
    let err = Settings::from_layers(
        Some("[server]\nprot = 1\n"),
        &no_env(),
        &SettingsArgs::default(),
    )
    .expect_err("typo");
    assert!(err.to_string().contains("prot"), "{err}");
}

#[test]
fn debug_output_redacts_the_root_key_and_the_database_url() {
    let env = env_of(&[
        ("ROOT_API_KEY", "root-secret-value"),
        ("STORE_BACKEND", "postgres"),
        ("DATABASE_URL", "postgres://user:db-password@localhost/db"),
    ]);
    let s = Settings::from_layers(None, &env, &SettingsArgs::default()).expect("valid");
    let shown = format!("{s:?} {s:#?}");
    assert!(!shown.contains("root-secret-value"), "{shown}");
    assert!(!shown.contains("db-password"), "{shown}");
    assert_eq!(
        s.auth.root_api_key.as_ref().map(|k| k.expose().as_str()),
        Some("root-secret-value")
    );
}

#[test]
fn every_environment_variable_is_documented_in_the_operations_guide() {
    let guide = include_str!("../../../../docs/OPERATIONS.md");
    for (name, _) in ENV_VARS {
        assert!(
            guide.contains(&format!("`{name}`")),
            "{name} is missing from docs/OPERATIONS.md"
        );
    }
}

#[test]
fn every_environment_variable_listed_is_read() {
    // Arrange: a lookup that records every name it is asked for
    let read = std::cell::RefCell::new(Vec::new());
    let env = |name: &str| {
        read.borrow_mut().push(name.to_owned());
        None
    };

    // Act
    Settings::from_layers(None, &env, &SettingsArgs::default()).expect("valid");

    // Assert
    for (name, _) in ENV_VARS {
        assert!(
            read.borrow().iter().any(|r| r == name),
            "{name} is never read"
        );
    }
    assert_eq!(
        read.borrow().len(),
        ENV_VARS.len(),
        "a variable is read but not listed"
    );
}

#[test]
fn the_log_format_is_text_on_a_terminal_json_otherwise_and_an_explicit_setting_wins() {
    assert_eq!(LogFormat::Auto.resolve(true), LogFormat::Text);
    assert_eq!(LogFormat::Auto.resolve(false), LogFormat::Json);
    assert_eq!(LogFormat::Json.resolve(true), LogFormat::Json);
    assert_eq!(LogFormat::Text.resolve(false), LogFormat::Text);
    let env = env_of(&[("LOG_FORMAT", "json")]);
    let s = Settings::from_layers(None, &env, &SettingsArgs::default()).expect("valid");
    assert_eq!(s.log.format, LogFormat::Json);
    let env = env_of(&[("LOG_FORMAT", "auto")]);
    let s = Settings::from_layers(None, &env, &flags(&["--log-format=text"])).expect("valid");
    assert_eq!(s.log.format, LogFormat::Text);
}

#[test]
fn worker_threads_default_to_the_runtime_s_choice_and_zero_is_an_error() {
    let s = Settings::from_layers(None, &no_env(), &SettingsArgs::default()).expect("valid");
    assert_eq!(s.server.worker_threads, None);

    let s = Settings::from_layers(None, &env_of(&[("WORKER_THREADS", "1")]), &flags(&[]))
        .expect("valid");
    assert_eq!(s.server.worker_threads, Some(1));
    let s = Settings::from_layers(
        Some("[server]\nworker_threads = 3\n"),
        &env_of(&[("WORKER_THREADS", "2")]),
        &flags(&["--worker-threads", "4"]),
    )
    .expect("valid");
    assert_eq!(s.server.worker_threads, Some(4), "the flag wins");

    for env in [[("WORKER_THREADS", "0")], [("WORKER_THREADS", "two")]] {
        let err = Settings::from_layers(None, &env_of(&env), &SettingsArgs::default())
            .expect_err("invalid");
        assert!(err.to_string().contains("WORKER_THREADS"), "{err}");
    }
}
