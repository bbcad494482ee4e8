//! Real headless Chromium (Debian's chromium + chromium-driver) driving the member pages:
//! open the ballot link, vote, read the receipt, find it at /verify — with JavaScript on and
//! with JavaScript off.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

/// A chromedriver process, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(javascript: bool) -> (Driver, Client) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "\n\nchromedriver could not start ({e}). The browser tests are never skipped: \
                 install Debian's browser and driver with\n  apt-get install -y chromium chromium-driver\n"
            )
        });
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--no-first-run".to_owned(),
        "--window-size=412,915".to_owned(),
        format!("--user-data-dir={}", driver._profile.path().display()),
    ];
    if !javascript {
        args.push("--blink-settings=scriptEnabled=false".to_owned());
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": args,
            "prefs": { "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 } },
        }),
    );
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cannot open a Chromium session through chromedriver: {last:?}");
}

/// The whole member journey in a real browser.
async fn vote_in_browser(db: &TestDb, javascript: bool) {
    let (id, tokens) = prepared_election(db, 3);
    sv(db, &["election", "open", &id]).ok();
    let app = spawn_app(db).await;
    let (_driver, c) = browser(javascript).await;

    // Prove the session's JavaScript setting: a page script that retitles the page runs or not.
    c.goto("data:text/html,<title>static</title><script>document.title='scripted'</script>")
        .await
        .unwrap();
    let title = c.title().await.unwrap();
    assert_eq!(title, if javascript { "scripted" } else { "static" });

    // The ballot link from the token CSV.
    let token = &tokens[0].1;
    c.goto(&format!("{}/vote?token={token}", app.address))
        .await
        .unwrap();
    let h1 = c
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(h1, "Strike authorization 2026");
    // Choose by clicking the label, as a thumb would.
    c.find(Locator::Css("label[for=choice-yes]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let receipt = c
        .wait()
        .for_element(Locator::Id("receipt"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(receipt.len(), 34, "{receipt}");
    let choice = c
        .find(Locator::Id("choice"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(choice, "Yes");

    // Later: the member types the receipt at /verify.
    c.goto(&format!("{}/verify", app.address)).await.unwrap();
    let field = c.find(Locator::Id("receipt")).await.unwrap();
    field.send_keys(&receipt.to_lowercase()).await.unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let result = c
        .wait()
        .for_element(Locator::Id("verify-result"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(result.contains("Your ballot is in the log."), "{result}");
    assert!(
        result.contains("checks out against the latest signed checkpoint"),
        "{result}"
    );
    let entry = c
        .find(Locator::Id("found-entry"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        entry.contains(&format!("\"receipt\":\"{receipt}\""))
            && entry.contains("\"choice\":\"yes\""),
        "{entry}"
    );

    // The same link again: the plain-language refusal.
    c.goto(&format!("{}/vote?token={token}", app.address))
        .await
        .unwrap();
    let message = c
        .find(Locator::Id("token-error"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(message.contains("already been used"), "{message}");
    c.close().await.unwrap();
}

both_backends! {
    async fn a_member_votes_in_chromium_and_finds_the_receipt(db: &TestDb) {
        vote_in_browser(db, true).await;
    }
}

both_backends! {
    async fn a_member_votes_in_chromium_with_javascript_off(db: &TestDb) {
        vote_in_browser(db, false).await;
    }
}
