use crate::harness::run;

#[test]
fn help_lists_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, _) = run(&["--help"], dir.path());
    assert!(ok);
    assert!(stdout.contains("registry"), "{stdout}");
    assert!(stdout.contains("--data-dir"), "{stdout}");
}

#[test]
fn an_invalid_listen_address_names_the_key_the_value_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(&["registry", "--listen", "localhost"], dir.path());
    assert!(!ok);
    for word in [
        "registry.listen",
        "\"localhost\"",
        "--listen",
        "QUARTZ_REGISTRY_LISTEN",
        "HOST:PORT",
    ] {
        assert!(stderr.contains(word), "{stderr:?} lacks {word}");
    }
}

#[test]
fn the_config_file_is_read_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quartz.toml"),
        "[registry]\nlisten = \"not-an-address\"\n",
    )
    .unwrap();
    let (ok, _, stderr) = run(&["registry"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains("registry.listen") && stderr.contains("not-an-address"),
        "{stderr}"
    );

    std::fs::write(dir.path().join("quartz.toml"), "[lambda]\nendpoint = \"ftp://x\"\n").unwrap();
    let (ok, _, stderr) = run(&["registry", "--listen", "127.0.0.1:0"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains("lambda.endpoint") && stderr.contains("ftp://x") && stderr.contains("http://"),
        "{stderr}"
    );
}

#[test]
fn unknown_keys_in_the_config_file_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quartz.toml"),
        "[registry]\nlisten_on = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let (ok, _, stderr) = run(&["registry"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains("quartz.toml") && stderr.contains("listen_on"),
        "{stderr}"
    );
}

#[test]
fn a_missing_explicit_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(&["--config", "nope.toml", "registry"], dir.path());
    assert!(!ok);
    assert!(stderr.contains("nope.toml"), "{stderr}");
}

#[test]
fn adapter_settings_from_the_file_are_validated_with_their_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quartz.toml"),
        "[adapter]\navs_address = \"0x12\"\noperator_set_id = \"1\"\n",
    )
    .unwrap();
    let (ok, _, stderr) = run(&["adapter", "--listen", "127.0.0.1:0"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains("adapter.avs_address") && stderr.contains("0x12"),
        "{stderr}"
    );
    std::fs::write(
        dir.path().join("quartz.toml"),
        "[adapter]\nfunction_timeout_secs = 5000\n",
    )
    .unwrap();
    let (ok, _, stderr) = run(&["adapter", "--listen", "127.0.0.1:0"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains("adapter.function_timeout_secs") && stderr.contains("900"),
        "{stderr}"
    );
    // Only one of the pair: the missing one is named.
    let (ok, _, stderr) = run(
        &[
            "adapter",
            "--listen",
            "127.0.0.1:0",
            "--avs-address",
            "0x8e14db002737f89745bc98f987caeb18d0d47635",
        ],
        dir.path(),
    );
    assert!(!ok);
    assert!(stderr.contains("OPERATOR_SET_ID"), "{stderr}");
}
