//! `quartz synth`, `quartz cost` and `quartz deploy` from the command line: what they print and
//! how they refuse bad flags.

use crate::harness::run;

const RM: &str = "0x59c8D715DCa616e032B744a753C017c9f3E16bf4";

#[test]
fn synth_prints_a_template_with_the_seeds_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = run(
        &[
            "synth",
            "--release-manager-address",
            RM,
            "--rpc-endpoint",
            "https://rpc.example",
        ],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    let template: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for output in [
        "ECRRepositoryURI",
        "RegistryAPIEndpoint",
        "StateMachineArn",
        "MonitorFunctionName",
    ] {
        assert!(template["Outputs"].get(output).is_some(), "{output}");
    }
    let env = &template["Resources"]["MonitorFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["RELEASE_MANAGER_ADDRESS"], RM.to_lowercase());
    assert_eq!(env["RPC_ENDPOINT"], "https://rpc.example/");
}

#[test]
fn synth_names_the_flag_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--release-manager-address",
                "0x1234",
                "--rpc-endpoint",
                "https://rpc.example",
            ],
            "--release-manager-address",
        ),
        (
            &["--release-manager-address", RM, "--rpc-endpoint", "rpc.example"],
            "--rpc-endpoint",
        ),
        (
            &["--release-manager-address", RM, "--rpc-endpoint", "ftp://rpc.example"],
            "--rpc-endpoint",
        ),
        (
            &[
                "--release-manager-address",
                RM,
                "--rpc-endpoint",
                "https://rpc.example",
                "--eks-node-role-arn",
                "nodes",
            ],
            "--eks-node-role-arn",
        ),
    ];
    for (args, flag) in cases {
        let mut all = vec!["synth"];
        all.extend_from_slice(args);
        let (ok, stdout, stderr) = run(&all, dir.path());
        assert!(!ok, "{args:?} was accepted");
        assert!(stdout.is_empty(), "no partial template on stdout: {stdout}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}

#[test]
fn cost_prints_a_table_and_json_with_the_same_total() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, table, stderr) = run(&["cost", "--tasks", "100000"], dir.path());
    assert!(ok, "{stderr}");
    assert!(
        table.contains("performer compute") && table.contains("total per month"),
        "{table}"
    );
    let (ok, json, _) = run(&["cost", "--tasks", "100000", "--json"], dir.path());
    assert!(ok);
    let estimate: serde_json::Value = serde_json::from_str(&json).unwrap();
    let total = estimate["totalUsd"].as_f64().unwrap();
    assert!(table.contains(&format!("{total:.2}")), "{total} in {table}");
    // Ten times the tasks costs more, but not ten times more: the control plane is fixed.
    let (_, json10, _) = run(&["cost", "--tasks", "1000000", "--json"], dir.path());
    let total10 = serde_json::from_str::<serde_json::Value>(&json10).unwrap()["totalUsd"]
        .as_f64()
        .unwrap();
    assert!(total10 > total && total10 < total * 10.0, "{total} -> {total10}");
}

#[test]
fn cost_names_the_flag_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(&["cost", "--tasks", "10", "--memory-mb", "64"], dir.path());
    assert!(!ok);
    assert!(stderr.contains("--memory-mb"), "{stderr}");
    let (ok, _, stderr) = run(&["cost", "--tasks", "10", "--price-api-gateway=-1"], dir.path());
    assert!(!ok);
    assert!(stderr.contains("--price-api-gateway"), "{stderr}");
}

#[test]
fn deploy_refuses_a_bad_endpoint_before_building_anything() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(
        &[
            "deploy",
            "--release-manager-address",
            RM,
            "--rpc-endpoint",
            "https://rpc.example",
            "--bucket",
            "b",
            "--endpoint-url",
            "localhost:5000",
        ],
        dir.path(),
    );
    assert!(!ok);
    assert!(stderr.contains("--endpoint-url"), "{stderr}");
}
