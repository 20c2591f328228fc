use std::process::Command;

use quartz_testkit::{Moto, require_tool};

use crate::harness::{start_registry, token};

/// schemathesis explores the OpenAPI document: no 5xx, no response outside the schema, no
/// status, content type or header that the schema does not declare. PUT legitimately refuses
/// schema-valid bodies naming a function that does not exist (400, as in the seed), so the
/// "positive data acceptance" check is left out for PUT only.
#[test]
fn schemathesis_finds_no_server_error_and_no_response_outside_the_schema() {
    require_tool("schemathesis");
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), &moto.endpoint());
    let auth = format!("Authorization: Bearer {}", token(dir.path()));
    let schema = format!("{}/openapi.json", registry.base);
    let runs: [&[&str]; 2] = [
        &["--exclude-method", "PUT", "--checks", "all"],
        &[
            "--include-method",
            "PUT",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ],
    ];
    for extra in runs {
        let output = Command::new("schemathesis")
            .args([
                "run",
                &schema,
                "-H",
                &auth,
                "--max-examples",
                "60",
                "--workers",
                "2",
                "--seed",
                "1",
            ])
            .args(extra)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("schemathesis runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "schemathesis {extra:?} found problems:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A PUT acknowledged by the registry survives `kill -9` of the process.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut registry = start_registry(dir.path(), &moto.endpoint());
    let function = "quartz-test-durable";
    let create = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-X", "POST"])
        .arg(format!("{}/2015-03-31/functions", moto.endpoint()))
        .args(["-H", "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"])
        .args(["-H", "Content-Type: application/json"])
        .arg("--data")
        .arg(format!(
            r#"{{"FunctionName":"{function}","PackageType":"Image","Role":"{}","Code":{{"ImageUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/p@sha256:{}"}}}}"#,
            quartz_testkit::MOTO_ROLE_ARN,
            "ab".repeat(32)
        ))
        .status()
        .unwrap();
    assert!(create.success(), "moto CreateFunction");
    let token = token(dir.path());
    let avs = "0x8e14db002737f89745bc98f987caeb18d0d47635";
    for id in 0..20 {
        let status = Command::new("curl")
            .args([
                "-sf",
                "-o",
                "/dev/null",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/json",
            ])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args([
                "--data",
                &format!(r#"{{"functionName":"{function}","releaseId":{id}}}"#),
            ])
            .arg(format!("{}/performers/{avs}/{id}", registry.base))
            .status()
            .unwrap();
        assert!(status.success(), "PUT {id}");
    }
    registry.guard.signal("KILL");
    assert!(
        registry
            .guard
            .wait_timeout(std::time::Duration::from_secs(10))
            .is_some()
    );

    let registry = start_registry(dir.path(), &moto.endpoint());
    let listing = Command::new("curl")
        .args(["-sf", &format!("{}/performers?limit=1000", registry.base)])
        .output()
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    assert_eq!(body["count"], 20, "{body}");
    for (id, performer) in body["performers"].as_array().unwrap().iter().enumerate() {
        assert_eq!(performer["releaseId"], id as u64);
    }
}
