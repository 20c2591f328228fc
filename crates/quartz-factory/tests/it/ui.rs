//! The operator's web page (`/ui`) in a real browser: headless Debian Chromium loads it from the
//! registry API over a store where the factory really deployed a performer, runs its script, and
//! the rendered DOM must show the performer, its history and the execution's steps.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quartz_core::{FunctionName, Sha256Digest};

use crate::harness::{Env, release, release_of, set};

/// A registry URL as hostile chain data might carry it; it ends up in an error message.
const HOSTILE: &str = "<img id=injected src=x onerror=alert(1)>";

fn chromium() -> PathBuf {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|path| path.is_file())
        })
    });
    found.unwrap_or_else(|| {
        panic!("chromium is not installed: run scripts/setup.sh (it installs Debian's chromium package)")
    })
}

/// Runs headless Chromium with `args` after the common flags; returns its stdout.
async fn run_chromium(browser: &Path, profile: &Path, args: &[String]) -> String {
    let mut command = tokio::process::Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            // Time runs virtually while the page idles, so the fetches and the first refreshes
            // finish before the DOM is dumped, however slow the machine.
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("chromium finished within 120 s")
        .expect("chromium starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The `<tr>` whose opening tag contains `marker` (a data attribute), up to its `</tr>`.
fn row<'a>(dom: &'a str, marker: &str) -> &'a str {
    let start = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no row with {marker} in the rendered page:\n{dom}"));
    let start = dom[..start].rfind("<tr").unwrap();
    let end = start + dom[start..].find("</tr>").unwrap();
    &dom[start..end]
}

#[tokio::test]
async fn the_page_shows_the_deployed_performer_and_its_executions_in_chromium() {
    // Before the slow part, so that a machine without it fails at once with the fix.
    let browser = chromium();
    let env = Env::start().await;
    let (base, shutdown) = env.serve_registry().await;

    // Release 1 goes live; release 2 fails its smoke check; release 3 carries hostile text.
    let s = set(50);
    let good = release(s, 1, &env.v1);
    let crash = release(s, 2, &env.crash);
    let hostile = release_of(s, 3, Sha256Digest::from_bytes([0; 32]), HOSTILE);
    for r in [&good, &crash, &hostile] {
        env.deploy(r.clone()).await;
    }
    let function = FunctionName::for_operator_set(&s).to_string();
    let ok_id = quartz_factory::execution_id(&good);
    let hostile_id = quartz_factory::execution_id(&hostile);

    let profile = tempfile::tempdir().unwrap();
    let ui = format!("{base}/ui");
    let dom = run_chromium(&browser, profile.path(), &["--dump-dom".into(), ui.clone()]).await;

    // The performer, live at release 1 on version 1.
    let performer = row(&dom, "data-performer=");
    assert!(performer.contains(&function), "{performer}");
    assert!(performer.contains(">1</td>"), "live release and version: {performer}");
    assert!(performer.contains(">active</span>"), "{performer}");
    // Its release history, newest first, says what happened to each release.
    assert!(row(&dom, r#"data-release="1""#).contains(">deployed</span>"), "{dom}");
    assert!(row(&dom, r#"data-release="2""#).contains(">failed</span>"), "{dom}");
    // All three executions are listed with their outcome.
    assert!(row(&dom, &format!(r#"data-execution="{ok_id}""#)).contains(">succeeded</span>"));
    let crashed = row(
        &dom,
        &format!(r#"data-execution="{}""#, quartz_factory::execution_id(&crash)),
    );
    assert!(
        crashed.contains(">failed</span>") && crashed.contains("smoke-check"),
        "{crashed}"
    );
    // The newest execution is shown in detail; its hostile registry URL is text, not markup.
    assert!(
        dom.contains(&format!(r#"id="execution-title" class="mono subtle">{hostile_id}<"#)),
        "{dom}"
    );
    assert!(row(&dom, r#"data-step="validate""#).contains(">failed</span>"), "{dom}");
    assert!(dom.contains("&lt;img id=injected src=x onerror=alert(1)&gt;"), "{dom}");
    // As an element it would be serialized with a quoted attribute; as text it never is.
    assert!(
        !dom.contains(r#"id="injected""#),
        "hostile text became an element: {dom}"
    );
    assert!(
        dom.contains(r#"id="error" class="banner" role="alert" hidden"#),
        "error banner: {dom}"
    );

    // A link to the successful execution shows all its steps, each succeeded.
    let linked = format!("{ui}#execution={ok_id}");
    let dom = run_chromium(&browser, profile.path(), &["--dump-dom".into(), linked.clone()]).await;
    assert!(
        dom.contains(&format!(r#"id="execution-title" class="mono subtle">{ok_id}<"#)),
        "{dom}"
    );
    for step in quartz_factory::workflow::WORKFLOW.steps.iter().map(|s| s.id.as_str()) {
        let step_row = row(&dom, &format!(r#"data-step="{step}""#));
        assert!(step_row.contains(">succeeded</span>"), "{step}: {step_row}");
    }
    assert!(row(&dom, r#"data-step="promote""#).contains(">promote</td>"));

    let dir =
        PathBuf::from(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into())).join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("ui.png");
    let _ = std::fs::remove_file(&png);
    run_chromium(
        &browser,
        profile.path(),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1400,1250".into(),
            ui,
        ],
    )
    .await;
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()));
    assert!(bytes.starts_with(b"\x89PNG"), "{} is not a PNG", png.display());
    println!("UI screenshot: {}", png.display());
    shutdown.cancel();
}
