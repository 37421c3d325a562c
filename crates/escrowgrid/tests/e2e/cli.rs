use std::process::Command;

fn escrowgrid() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_escrowgrid"));
    command.env_clear();
    command
}

#[tokio::test]
async fn migrate_applies_pending_migrations_once_and_reports_them() {
    // Arrange
    let db = testkit::database().await;
    let run = || {
        escrowgrid()
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "warn")
            .output()
            .expect("run escrowgrid migrate")
    };

    // Act
    let first = run();
    let second = run();

    // Assert
    let first_out = String::from_utf8_lossy(&first.stdout);
    let second_out = String::from_utf8_lossy(&second.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        first_out.starts_with("applied migrations: 1"),
        "{first_out}"
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(second_out.contains("up to date"), "{second_out}");
}

#[test]
fn a_bad_environment_variable_stops_serve_with_a_message_naming_it() {
    // Act
    let out = escrowgrid()
        .arg("serve")
        .env("PORT", "not-a-port")
        .output()
        .expect("run escrowgrid serve");

    // Assert
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("PORT") && stderr.contains("not-a-port"),
        "{stderr}"
    );
}

#[test]
fn print_config_prints_a_file_that_serve_accepts() {
    // Act
    let out = escrowgrid()
        .arg("print-config")
        .output()
        .expect("run escrowgrid print-config");

    // Assert
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let parsed = escrowgrid::config::Settings::from_layers(
        Some(&text),
        &|_| None,
        &escrowgrid::config::SettingsArgs::default(),
    )
    .expect("the example parses");
    assert_eq!(parsed.server.port, 4000);
}
