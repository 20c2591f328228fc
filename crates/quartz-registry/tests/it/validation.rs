use serde_json::json;

use crate::harness::{AVS, Registry, create_function, expect_error};

#[tokio::test(flavor = "multi_thread")]
async fn bad_path_parameters_are_named() {
    let registry = Registry::start().await;
    for bad in [
        "0x12",
        "8e14db002737f89745bc98f987caeb18d0d47635",
        "0xzz14db002737f89745bc98f987caeb18d0d47635",
    ] {
        expect_error(registry.get(&format!("/performers/{bad}/1")), 400, &["avs"]).await;
        expect_error(registry.put(&format!("/performers/{bad}/1"), &json!({})), 400, &["avs"]).await;
        expect_error(registry.delete(&format!("/performers/{bad}/1")), 400, &["avs"]).await;
    }
    // A mixed-case address whose EIP-55 checksum is wrong is most likely a typo.
    let typo = AVS.replace("dB", "Db");
    expect_error(
        registry.get(&format!("/performers/{typo}/1")),
        400,
        &["avs", "EIP-55", AVS],
    )
    .await;
    for bad in ["abc", "-1", "4294967296", "1.5", "%20"] {
        expect_error(registry.get(&format!("/performers/{AVS}/{bad}")), 400, &["opsetId"]).await;
        expect_error(
            registry.get(&format!("/performers/{AVS}/{bad}/releases")),
            400,
            &["opsetId"],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_are_refused_with_the_field_named() {
    let registry = Registry::start().await;
    create_function("quartz-test-validation").await;
    let path = format!("/performers/{AVS}/11");
    let cases = [
        (json!({"functionName": "has space"}), "functionName"),
        (json!({"functionName": "x".repeat(65)}), "functionName"),
        (json!({"functionName": 5}), "functionName"),
        (json!({"releaseId": "seven"}), "releaseId"),
        (json!({"releaseId": -1}), "releaseId"),
        (json!({"releaseId": u64::MAX}), "releaseId"),
        (json!({"imageUri": "ghcr.io/x:latest"}), "imageUri"),
        (json!({"imageUri": "http://evil/x@sha256:00"}), "imageUri"),
        (json!({"artifactDigest": "sha256:abc"}), "artifactDigest"),
        (json!({"status": "running"}), "status"),
        (json!({"functionVersion": "v1"}), "functionVersion"),
        (json!({"functionArn": "not-an-arn"}), "functionArn"),
        (
            json!({"functionArn": "arn:aws:lambda:us-east-1:1:function:someone-else"}),
            "functionArn",
        ),
        (json!({"functionVersion": "0"}), "functionVersion"),
        // A name made by the naming rule belongs to one operator set only.
        (
            json!({"functionName": "avs-0x8e14db002737f89745bc98f987caeb18d0d47635-opset-1-performer"}),
            "functionName",
        ),
        (json!({"functioName": "typo"}), "functioName"),
        (
            json!({"imageUri": format!("a.io/x@sha256:{}", "1".repeat(64)), "artifactDigest": format!("sha256:{}", "2".repeat(64))}),
            "artifactDigest",
        ),
    ];
    for (body, field) in cases {
        expect_error(registry.put(&path, &body).header("x-case", field), 400, &[field]).await;
    }
    let url = format!("{}{path}", registry.base);
    let token = crate::harness::TOKEN;
    expect_error(
        registry
            .http
            .put(&url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body("{\"releaseId\": 1"),
        400,
        &["JSON"],
    )
    .await;
    expect_error(
        registry.http.put(&url).bearer_auth(token).body("{}"),
        415,
        &["Content-Type"],
    )
    .await;
    expect_error(registry.get(&path), 404, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_64_kib_get_413() {
    let registry = Registry::start().await;
    let url = format!("{}/performers/{AVS}/12", registry.base);
    let big = json!({"functionArn": format!("arn:{}", "a".repeat(70 * 1024))});
    expect_error(
        registry.http.put(&url).bearer_auth(crate::harness::TOKEN).json(&big),
        413,
        &["65536"],
    )
    .await;
    // Also when the client does not announce the length up front (chunked encoding).
    let (status, body) = chunked_put(&registry.base, &format!("/performers/{AVS}/12"), 70 * 1024).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"error\""), "{body}");
}

/// A PUT with `Transfer-Encoding: chunked` and no Content-Length, over a raw socket.
async fn chunked_put(base: &str, path: &str, size: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        crate::harness::TOKEN
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 4096];
    for _ in 0..size / chunk.len() {
        if socket
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
            || socket.write_all(&chunk).await.is_err()
            || socket.write_all(b"\r\n").await.is_err()
        {
            break; // the server may answer and close before reading everything
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = socket.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_methods_answer_json() {
    let registry = Registry::start().await;
    expect_error(registry.get("/nope"), 404, &["/nope"]).await;
    expect_error(
        registry.http.post(format!("{}/performers", registry.base)),
        405,
        &["POST"],
    )
    .await;
}
