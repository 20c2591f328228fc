//! The web page's files: served with a CSP that forbids inline code, and a script that never
//! turns data into HTML (the page shows chain data, which anyone can publish).

use reqwest::header::HeaderMap;

use crate::harness::{Registry, send};

const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

async fn fetch(registry: &Registry, path: &str) -> (u16, HeaderMap, String) {
    let response = registry.get(path).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_a_strict_csp() {
    let registry = Registry::start_with(Some("http://127.0.0.1:9".into()), None).await;
    for (path, content_type) in [
        ("/ui", "text/html; charset=utf-8"),
        ("/ui/", "text/html; charset=utf-8"),
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/app.css", "text/css; charset=utf-8"),
    ] {
        let (status, headers, body) = fetch(&registry, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(header(&headers, "content-type"), content_type, "{path}");
        assert_eq!(header(&headers, "content-security-policy"), CSP, "{path}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff", "{path}");
        assert!(!body.is_empty(), "{path}");
    }

    // The CSP allows no inline code, so the page must not carry any: every script is a file,
    // no element has an event-handler or style attribute.
    let (_, _, page) = fetch(&registry, "/ui").await;
    assert!(page.contains(r#"<script src="/ui/app.js" defer></script>"#), "{page}");
    assert!(page.contains(r#"<link rel="stylesheet" href="/ui/app.css">"#), "{page}");
    assert_eq!(page.matches("<script").count(), 1, "one script, from a file");
    assert!(!page.contains("<style"), "inline style element");
    let lower = page.to_lowercase();
    assert!(!lower.contains(" style="), "inline style attribute");
    let handler = lower.match_indices(" on").find(|(at, _)| {
        let rest = &lower[at + 3..];
        let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    });
    assert!(handler.is_none(), "event handler attribute at {handler:?}");

    // Unknown files under /ui and other methods answer like the rest of the API.
    let (status, body) = send(registry.get("/ui/nope.js")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = send(registry.http.post(format!("{}/ui", registry.base))).await;
    assert_eq!(status, 405, "{body}");
}

#[tokio::test]
async fn the_script_never_writes_data_as_html() {
    let registry = Registry::start_with(Some("http://127.0.0.1:9".into()), None).await;
    let (_, _, script) = fetch(&registry, "/ui/app.js").await;
    // A guard, not a proof: these are the ways text becomes markup or code in a browser.
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "createContextualFragment",
        "DOMParser",
        "eval(",
        "new Function",
        "srcdoc",
        "javascript:",
        "setAttribute('on",
        "setAttribute(\"on",
        ".href =",
        ".src =",
    ] {
        assert!(!script.contains(sink), "app.js uses {sink:?}");
    }
    // Text goes in through textContent; check the page really renders that way.
    assert!(script.contains(".textContent ="), "app.js sets text with textContent");
}
