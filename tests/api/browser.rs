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
    browser_with_downloads(javascript, None).await
}

async fn browser_with_downloads(
    javascript: bool,
    downloads: Option<&std::path::Path>,
) -> (Driver, Client) {
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
            "prefs": {
                "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 },
                "download.default_directory": downloads.map(|d| d.display().to_string()).unwrap_or_default(),
                "download.prompt_for_download": false,
            },
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

/// The form fields (or JSON keys) of a request body.
fn fields_of(body: &[u8]) -> Vec<(String, String)> {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        return map.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    }
    // A form body: keys are plain words; values stay percent-encoded (only emptiness matters).
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The whole member journey in a real browser, every request it makes recorded by a proxy in
/// front of the service. With JavaScript on the member's device seals the ballot: they check a
/// sealed ballot first (a challenge), then seal again and cast, and no request but the
/// challenge's carries a choice.
async fn vote_in_browser(db: &TestDb, javascript: bool) {
    let (id, tokens) = prepared_election(db, 3);
    sv(db, &["election", "open", &id]).ok();
    let served = spawn_app(db).await;
    let (proxy, requests) = start_proxy(served.address.clone(), |_, body| body);
    let app = TestApp {
        address: proxy.url(),
        ..served
    };
    let (_driver, c) = browser(javascript).await;
    let mut challenged = String::new();

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
    if javascript {
        assert_accessible(&c, "the ballot page").await;
        // The token leaves the address bar once the page has it.
        let url = c.current_url().await.unwrap();
        assert!(!url.as_str().contains(token.as_str()), "{url}");
        challenged = check_then_seal_again(&c).await;
    }
    // Choose by clicking the label, as a thumb would.
    click(&c, "label[for=choice-yes]").await;
    click(&c, "button[type=submit]").await;
    let sealed_tracker = if javascript {
        let shown = filled_text(&c, "sealed-tracker").await.replace(' ', "");
        assert_accessible(&c, "the sealed ballot").await;
        click(&c, "#cast-sealed").await;
        Some(shown)
    } else {
        None
    };

    let receipt = text_of(&c, "receipt").await;
    assert_eq!(receipt.len(), 34, "{receipt}");
    if javascript {
        assert_accessible(&c, "the confirmation page").await;
    }
    let tracker = text_of(&c, "tracker").await;
    assert_eq!(
        tracker.len(),
        64,
        "the ballot's tracker, not its choice: {tracker}"
    );
    // The confirmation says in plain words who sealed the ballot; with JavaScript on it is the
    // ballot the device showed before casting.
    let sealed_by = text_of(&c, "sealed-by").await;
    if let Some(shown) = &sealed_tracker {
        assert_eq!(
            &tracker, shown,
            "the cast ballot is the one the page showed"
        );
        assert!(
            sealed_by.contains("the server never saw your choice"),
            "{sealed_by}"
        );
    } else {
        assert!(
            sealed_by.contains("the server sealed your choice"),
            "{sealed_by}"
        );
    }
    // Post-redirect-get: the confirmation is a GET, so no form body stays in the history.
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/vote/done", "{url}");
    assert_no_choice_sent(&requests.lock().unwrap(), javascript);
    if javascript {
        // The challenge entry verifies: re-sealed from its randomness, it held "no"; the cast
        // ballot was sealed by the page's code.
        export_bundle(db, &id, "browser-bundle");
        let dir = db.path("browser-bundle");
        let report = sv(
            db,
            &[
                "audit",
                "verify",
                dir.to_str().unwrap(),
                "--trust-bundle-key",
                "--tracker",
                &challenged,
            ],
        )
        .ok();
        assert!(report.contains("1 ballot(s), 1 checked first (every one held its stated choice): members' pages running sealing code"), "{report}");
        assert!(report.contains("It held `no`"), "{report}");
    }
    // Switching to Spanish keeps the receipt on screen, and out of the address bar.
    click(&c, "button.lang").await;
    assert_eq!(text_of(&c, "receipt").await, receipt);
    assert_eq!(text_of(&c, "tracker").await, tracker);
    let url = c.current_url().await.unwrap();
    assert!(!url.as_str().contains(&receipt), "{url}");
    let lang = c
        .find(Locator::Css("html"))
        .await
        .unwrap()
        .attr("lang")
        .await
        .unwrap();
    assert_eq!(lang.as_deref(), Some("es"));
    if javascript {
        assert_accessible(&c, "the confirmation page in Spanish").await;
    }

    // Later: the member types the receipt at /verify.
    c.goto(&format!("{}/verify", app.address)).await.unwrap();
    let field = c.find(Locator::Id("receipt")).await.unwrap();
    field.send_keys(&receipt.to_lowercase()).await.unwrap();
    click(&c, "button[type=submit]").await;
    let result = text_of(&c, "verify-result").await;
    if javascript {
        assert_accessible(&c, "the receipt check").await;
    }
    assert!(result.contains("Your ballot is in the log."), "{result}");
    assert!(
        result.contains("checks out against the latest signed checkpoint"),
        "{result}"
    );
    // The member reads a sentence and the tracker; the raw entry (about 1,000 characters of
    // sealed-ballot JSON) is behind a disclosure until asked for.
    assert!(
        result.contains("If they match, the log holds your ballot exactly as it was cast."),
        "{result}"
    );
    assert!(!result.contains("\"choices\""), "raw data shown: {result}");
    assert_eq!(text_of(&c, "found-entry").await, "", "hidden until opened");
    click(&c, "#found-raw > summary").await;
    let entry = text_of(&c, "found-entry").await;
    assert!(
        entry.contains(&format!("\"receipt\":\"{receipt}\""))
            && entry.contains("\"ballot\":{\"choices\":")
            && !entry.contains("\"yes\""),
        "{entry}"
    );
    assert_eq!(text_of(&c, "found-tracker").await, tracker);

    // The same link again: the plain-language refusal.
    c.goto(&format!("{}/vote?token={token}", app.address))
        .await
        .unwrap();
    let message = text_of(&c, "token-error").await;
    assert!(message.contains("already been used"), "{message}");
    if javascript {
        confirm_with_a_saved_checker(&c, &app, &id, &challenged, dir_of(db)).await;
    }
    c.close().await.unwrap();
}

/// With JavaScript on: seal "no", check it first; the page shows what it held and the log
/// entry, then offers the ballot again. Returns the checked ballot's tracker.
async fn check_then_seal_again(c: &Client) -> String {
    click(c, "label[for=choice-no]").await;
    click(c, "button[type=submit]").await;
    let tracker = filled_text(c, "sealed-tracker").await.replace(' ', "");
    assert_eq!(tracker.len(), 64, "{tracker}");
    click(c, "#check-sealed").await;
    let held = filled_text(c, "checked-choice").await;
    assert_eq!(held, "No", "the checked ballot held the choice picked");
    let said = text_of(c, "checked-where").await;
    assert!(
        said.contains("entry ") && said.contains("never be counted"),
        "{said}"
    );
    assert_accessible(c, "the checked ballot").await;
    tracker
}

/// No request the browser made carries a choice as a field — except, with JavaScript on, the
/// one challenge, which reveals the checked ballot's choice by design. The cast itself sends
/// the sealed ballot (JavaScript on) or the padded choice (off).
fn assert_no_choice_sent(requests: &[Passed], javascript: bool) {
    let mut challenges = 0;
    let mut cast = None;
    for r in requests {
        assert!(!r.path.contains("choice"), "{} {}", r.method, r.path);
        let fields = fields_of(&r.body);
        if r.path.starts_with("/api/v1/challenges") {
            challenges += 1;
            assert!(
                fields.iter().any(|(k, v)| k == "choice" && v == "\"no\""),
                "{fields:?}"
            );
            continue;
        }
        if r.method == "POST" && r.path == "/vote" {
            cast = Some(fields.clone());
        }
        if javascript {
            assert!(
                fields.iter().all(|(k, _)| k != "choice"),
                "{} {}: {fields:?}",
                r.method,
                r.path
            );
        }
    }
    let cast = cast.expect("the cast was recorded");
    let has = |k: &str| {
        cast.iter()
            .any(|(name, value)| name == k && !value.is_empty())
    };
    if javascript {
        assert_eq!(challenges, 1);
        assert!(
            has("ballot") && has("sealing_code") && !has("choice"),
            "{cast:?}"
        );
    } else {
        assert_eq!(challenges, 0);
        assert!(has("choice") && !has("ballot"), "{cast:?}");
    }
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

async fn sign_in(c: &Client, base: &str, username: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click(c, "form[action='/login'] button").await;
    c.wait()
        .for_element(Locator::Id("elections"))
        .await
        .unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The text of element `#id`, once the page has it. A navigation that replaces the page between
/// finding the element and reading it ("aborted by navigation") is waited out, not failed.
async fn text_of(c: &Client, id: &str) -> String {
    for _ in 0..10 {
        let wait = c.wait().at_most(Duration::from_secs(5));
        if let Ok(element) = wait.for_element(Locator::Id(id)).await
            && let Ok(text) = element.text().await
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never showed #{id}");
}

/// The text of `#id` once it has some (a script fills it after a request).
async fn filled_text(c: &Client, id: &str) -> String {
    for _ in 0..100 {
        let text = text_of(c, id).await;
        if !text.is_empty() {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("#{id} stayed empty");
}

/// What axe-core (WCAG 2.0/2.1, levels A and AA) finds wrong with the page shown: one line
/// per rule broken, naming the elements. `tests/run.sh` installs axe-core with npm into
/// tests/browser/node_modules.
async fn violations(c: &Client) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/browser/node_modules/axe-core/axe.min.js"
    );
    let axe = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("{path}: {e}; install it with `npm ci --prefix tests/browser` (tests/run.sh does)")
    });
    c.execute(&axe, vec![]).await.unwrap();
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
               .then(r => done(r.violations.map(v => v.id + ' (' + v.help + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))))\
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// Fails on any WCAG 2.1 AA violation axe-core finds on the page shown.
async fn assert_accessible(c: &Client, what: &str) {
    let found = violations(c).await;
    assert!(
        found.is_empty(),
        "{what}: WCAG 2.1 AA violations:\n{}",
        found.join("\n")
    );
}

async fn submit(c: &Client, form_action: &str) {
    c.find(Locator::Css(&format!(
        "form[action='{form_action}'] button[type=submit]"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
}

async fn confirm(c: &Client, base: &str, id: &str, action: &str) {
    c.goto(&format!("{base}/admin/elections/{id}"))
        .await
        .unwrap();
    c.find(Locator::Css(&format!("a[href$='confirm?action={action}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The step names the election; closing before the window ends says so.
    assert_eq!(
        text_of(c, "confirm-election").await,
        "Strike authorization 2026"
    );
    if action == "close" {
        let warning = text_of(c, "confirm-warning").await;
        assert!(warning.contains("early"), "{warning}");
    }
    password_again(c).await;
    submit(c, &format!("/admin/elections/{id}/state")).await;
    c.wait().for_element(Locator::Id("state")).await.unwrap();
}

/// Types the official's password again, as every step that changes the vote asks.
async fn password_again(c: &Client) {
    c.find(Locator::Id("password-again"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
}

/// The officials' journey in Chromium: sign in, create, a bad roster named, a good one,
/// tokens downloaded, open; members vote; the observer watches turnout; close, certify, and
/// the result page shows the right numbers.
async fn run_the_vote_in_browser(db: &TestDb) {
    official(db, "carol", "admin");
    official(db, "olga", "observer");
    let app = spawn_app(db).await;
    let base = app.address.clone();
    let downloads = tempfile::tempdir().unwrap();
    let (_driver, c) = browser_with_downloads(true, Some(downloads.path())).await;
    sign_in(&c, &base, "carol").await;

    // Create the election with the form, no text editor: a mistake first (closing before
    // opening), which is named while every answer stays as typed.
    c.goto(&format!("{base}/admin")).await.unwrap();
    click(&c, "#builder-link").await;
    let typed = [
        ("title", "Strike authorization 2026"),
        (
            "question",
            "Do you authorize a strike if the producers do not reach an agreement?",
        ),
        (
            "locals",
            "600, Local 600, 76\n700, Local 700, 56\n871, Local 871, 24",
        ),
        ("contact", "Election committee: (555) 010-0100"),
    ];
    for (id, text) in typed {
        c.find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    let set = |id: &'static str, value: &'static str| {
        let c = c.clone();
        async move {
            c.execute(
                "document.getElementById(arguments[0]).value = arguments[1];",
                vec![serde_json::json!(id), serde_json::json!(value)],
            )
            .await
            .unwrap();
        }
    };
    set("opens", "2026-01-01T00:00").await;
    set("closes", "2025-01-01T00:00").await;
    // Six members in three locals: opened one local at a time (tests/api/small_locals.rs
    // counts small locals together at the default minimum).
    set("min_ballots", "1").await;
    submit(&c, "/admin/elections/new").await;
    let problems = text_of(&c, "error-summary").await;
    assert_accessible(&c, "the election builder with a problem").await;
    assert!(
        problems.contains("the vote must close after it opens"),
        "{problems}"
    );
    let kept = c
        .find(Locator::Id("title"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("Strike authorization 2026"));
    set("closes", "2036-01-01T00:00").await;
    // One admin runs this vote alone: the two-person rule off (tests/api/two_person.rs has it on).
    c.find(Locator::Id("one_admin"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    submit(&c, "/admin/elections/new").await;
    // The window has begun: the builder asks to confirm before it creates.
    let warned = text_of(&c, "warnings").await;
    assert!(warned.contains("opens_at"), "{warned}");
    assert_accessible(&c, "the election builder's warnings").await;
    c.find(Locator::Id("accept_warnings"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    submit(&c, "/admin/elections/new").await;
    assert_eq!(text_of(&c, "state").await, "draft");
    assert_accessible(&c, "the dashboard of a draft").await;
    assert_eq!(
        text_of(&c, "key-ceremony").await,
        "round 1 of 3: 0 of 3 tellers have published their keys"
    );
    let url = c.current_url().await.unwrap();
    let id = url.path().rsplit('/').next().unwrap().to_owned();
    run_ceremony(db, &id);

    let bad = db.path("bad.csv");
    std::fs::write(&bad, "member_id,local,name,email\nM1,600,A,\nM2,999,B,\n").unwrap();
    c.find(Locator::Id("roster"))
        .await
        .unwrap()
        .send_keys(bad.to_str().unwrap())
        .await
        .unwrap();
    submit(&c, &format!("/admin/elections/{id}/roster")).await;
    let problem = text_of(&c, "error-summary").await;
    assert!(
        problem.contains("line 3: local `999` is not one of the election's locals"),
        "{problem}"
    );

    let good = db.path("good.csv");
    let rows: Vec<String> = (0..6)
        .map(|i| format!("M{i},{},Member {i},", ["600", "700", "871"][i % 3]))
        .collect();
    std::fs::write(
        &good,
        format!("member_id,local,name,email\n{}\n", rows.join("\n")),
    )
    .unwrap();
    c.find(Locator::Id("roster"))
        .await
        .unwrap()
        .send_keys(good.to_str().unwrap())
        .await
        .unwrap();
    submit(&c, &format!("/admin/elections/{id}/roster")).await;
    assert!(
        text_of(&c, "notice")
            .await
            .contains("Roster imported: 6 members")
    );
    assert!(
        text_of(&c, "key-ceremony")
            .await
            .starts_with("complete: the election key is ready")
    );

    // Issuing tokens says first how many each local gets.
    click(&c, "#issue-tokens-link").await;
    assert_eq!(
        text_of(&c, "tokens-needed").await,
        "6 members have no token yet and will get one:"
    );
    assert_accessible(&c, "the confirmation to issue tokens").await;
    password_again(&c).await;
    submit(&c, &format!("/admin/elections/{id}/tokens")).await;
    let csv_path = downloads.path().join(format!("tokens-{id}.csv"));
    // Chromium may show the file under its final name before the last bytes are written:
    // wait until it holds every row (or 10 s).
    let mut tokens: Vec<String> = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&csv_path).unwrap_or_default();
        if text.ends_with('\n') && text.lines().count() == 7 {
            tokens = read_token_csv(&csv_path)
                .into_iter()
                .map(|r| r["token"].clone())
                .collect();
            if tokens.len() == 6 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tokens.len(), 6, "the mailing CSV was downloaded");
    // The page says what was downloaded and offers nothing stale: no form to issue again.
    let done = text_of(&c, "tokens-downloaded").await;
    assert!(
        done.contains("the mailing file with the 6 new tokens is downloading")
            && done.contains(&format!("tokens-{id}.csv")),
        "{done}"
    );
    let forms = c
        .find_all(Locator::Css(&format!(
            "form[action='/admin/elections/{id}/tokens']"
        )))
        .await
        .unwrap();
    for form in forms {
        assert!(
            !form.is_displayed().await.unwrap(),
            "the issuing form is still offered"
        );
    }
    assert_accessible(&c, "the page after the download").await;

    confirm(&c, &base, &id, "open").await;
    assert_eq!(text_of(&c, "state").await, "open");
    assert_accessible(&c, "the dashboard of an open vote").await;
    // The confirmation steps and the accounts page pass the same check.
    c.goto(&format!("{base}/admin/elections/{id}/confirm?action=close"))
        .await
        .unwrap();
    assert_accessible(&c, "the confirmation to close").await;
    c.goto(&format!("{base}/admin/elections/{id}/reissue-all"))
        .await
        .unwrap();
    assert_accessible(&c, "the confirmation to replace every token").await;
    c.goto(&format!("{base}/admin/accounts")).await.unwrap();
    assert_accessible(&c, "the accounts page").await;
    // Reissuing one member's token shows whose it is first (nothing changes until confirmed).
    c.goto(&format!("{base}/admin/elections/{id}"))
        .await
        .unwrap();
    c.find(Locator::Id("member"))
        .await
        .unwrap()
        .send_keys("M1")
        .await
        .unwrap();
    submit(&c, &format!("/admin/elections/{id}/reissue")).await;
    assert!(
        text_of(&c, "reissue-member").await.contains("M1"),
        "the confirmation names the member"
    );
    assert_accessible(&c, "the confirmation to reissue a token").await;
    for (i, token) in tokens.iter().enumerate() {
        vote_by_form(&app, token, if i < 5 { "yes" } else { "no" }).await;
    }

    // The observer, in a browser of their own, sees the turnout and nothing more.
    {
        let (_observer_driver, o) = browser(true).await;
        sign_in(&o, &base, "olga").await;
        o.goto(&format!("{base}/admin/elections/{id}"))
            .await
            .unwrap();
        assert_eq!(text_of(&o, "cast-total").await, "6");
        let page = o.source().await.unwrap();
        assert!(
            !page.contains("Results by local") && !page.contains("confirm?action"),
            "observers see turnout only"
        );
        o.close().await.unwrap();
    }

    confirm(&c, &base, &id, "close").await;
    assert!(
        text_of(&c, "decryption")
            .await
            .starts_with("waiting for the tellers"),
        "after close the dashboard waits for the tellers"
    );
    decrypt(db, &id);
    confirm(&c, &base, &id, "certify").await;
    assert_eq!(text_of(&c, "state").await, "certified");
    assert_accessible(&c, "the dashboard of a certified vote").await;
    c.goto(&format!("{base}/elections/{id}/result"))
        .await
        .unwrap();
    // One sentence leads: the decision and why, naming the local that fell short.
    let decision = text_of(&c, "decision").await;
    assert!(
        decision.starts_with(
            "PASSED: locals holding 132 of 156 delegates voted yes; more than half needed."
        ) && decision.contains(": 50.00% yes, at least 75% needed."),
        "{decision}"
    );
    assert_eq!(
        text_of(&c, "popular-outcome").await,
        "Popular vote (for information only): 83.33% of the yes and no ballots were yes"
    );
    // Created from the web: the origin is the server's own public URL (here its local port).
    let host = base
        .trim_start_matches("http://")
        .replace("127.0.0.1", "localhost");
    assert!(
        text_of(&c, "certified-checkpoint")
            .await
            .starts_with(&format!("{host}/elections/{id}"))
    );
    assert_eq!(
        text_of(&c, "origin").await,
        format!("{host}/elections/{id}")
    );
    assert_eq!(text_of(&c, "fingerprint").await.len(), 39);
    // The result fits a 390 px phone and a desktop: no sideways scrolling, chart labels
    // readable (at least 12 px tall as drawn).
    for (width, height) in [(390, 844), (1280, 900)] {
        c.set_window_size(width, height).await.unwrap();
        c.goto(&format!("{base}/elections/{id}/result"))
            .await
            .unwrap();
        let measured = c
            .execute(
                "const t = document.querySelector('svg.chart text').getBoundingClientRect();\
                 return [document.documentElement.scrollWidth, document.documentElement.clientWidth, t.height];",
                vec![],
            )
            .await
            .unwrap();
        let m: Vec<f64> = measured
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(
            m[0] <= m[1],
            "{width} px: the page scrolls sideways ({m:?})"
        );
        assert!(
            m[2] >= 12.0,
            "{width} px: chart labels are {} px tall",
            m[2]
        );
        assert_accessible(&c, &format!("the certificate at {width} px")).await;
    }
    // The same certificate in Spanish, from the page's language switch.
    c.find(Locator::Css("a[hreflang='es']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let decision = text_of(&c, "decision").await;
    assert!(
        decision.starts_with("APROBADA: los locales que votaron sí suman 132 de 156 delegados; se necesita más de la mitad."),
        "{decision}"
    );
    assert_accessible(&c, "the certificate in Spanish").await;
    c.close().await.unwrap();
}

both_backends! {
    async fn officials_run_a_vote_in_chromium(db: &TestDb) {
        run_the_vote_in_browser(db).await;
    }
}

/// The accessibility check is a real one: a page built to break the rules fails it.
#[tokio::test]
async fn the_accessibility_check_finds_what_a_bad_page_breaks() {
    let (_driver, c) = browser(true).await;
    c.goto("data:text/html,<html><body><img src='x.png'><input type='text'></body></html>")
        .await
        .unwrap();
    let found = violations(&c).await.join("\n");
    for rule in ["image-alt", "html-has-lang", "label"] {
        assert!(found.contains(rule), "axe missed `{rule}`:\n{found}");
    }
    c.close().await.unwrap();
}

/// Subresource Integrity of `bytes`: `sha256-` and the digest in base64.
fn integrity(bytes: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

both_backends! {
    async fn a_page_whose_sealing_code_was_altered_is_caught_by_its_challenge(db: &TestDb) {
        // The operator serves sealing code altered to seal the other choice, and ballot pages
        // that name it (so the browser runs it); everything else passes untouched.
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        let served = spawn_app(db).await;
        let honest = reqwest::get(format!("{}/static/sealing.js", served.address)).await.unwrap().bytes().await.unwrap().to_vec();
        let text = String::from_utf8(honest.clone()).unwrap();
        let signature = "function seal(electionKey, election, local, options, choice) {";
        assert!(text.contains(signature), "the served code has its seal function");
        let altered = text.replace(signature, &format!("{signature}\n  choice = options - 1 - choice;")).into_bytes();
        let (from, to) = (integrity(&honest), integrity(&altered));
        let (proxy, requests) = start_proxy(served.address.clone(), move |path, body| {
            if path.starts_with("/static/sealing.js") {
                altered.clone()
            } else if path.starts_with("/vote") {
                String::from_utf8_lossy(&body).replace(&from, &to).into_bytes()
            } else {
                body
            }
        });
        let (_driver, c) = browser(true).await;
        c.goto(&format!("{}/vote?token={}", proxy.url(), tokens[0].1)).await.unwrap();
        // The member picks "No" and checks the sealed ballot: it held "Yes".
        click(&c, "label[for=choice-no]").await;
        click(&c, "button[type=submit]").await;
        filled_text(&c, "sealed-tracker").await;
        click(&c, "#check-sealed").await;
        assert_eq!(filled_text(&c, "checked-choice").await, "Yes", "the altered page is caught");
        assert!(text_of(&c, "checked").await.contains("If this is not the choice you picked"));
        // The log says so too, for anyone to re-seal: the challenge holds "yes".
        let app = TestApp { address: proxy.url(), ..served };
        let (_, checkpoint) = app.get(&format!("/api/v1/elections/{id}/checkpoint")).await;
        let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
        let (_, last) = app.get(&format!("/api/v1/elections/{id}/entries?start={}&end={size}", size - 1)).await;
        let entry: serde_json::Value = serde_json::from_str(last.trim_end()).unwrap();
        assert_eq!((entry["type"].as_str(), entry["choice"].as_str()), (Some("challenge"), Some("yes")), "{entry}");
        assert!(requests.lock().unwrap().iter().any(|r| r.path.starts_with("/static/sealing.js")));
        c.close().await.unwrap();
    }
}

fn dir_of(db: &TestDb) -> std::path::PathBuf {
    db.path("saved-checker")
}

/// The member confirms the check with the checker they saved (a file opened from disk, its own
/// copy of the sealing code inline): it fetches the challenge entry and re-seals it.
async fn confirm_with_a_saved_checker(
    c: &Client,
    app: &TestApp,
    id: &str,
    tracker: &str,
    dir: std::path::PathBuf,
) {
    let res = reqwest::get(format!("{}/check/checker.html?lang=en", app.address))
        .await
        .unwrap();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("strikevote-checker.html")
    );
    let file = res.text().await.unwrap();
    assert!(
        !file.contains("src=\"/static/sealing.js\""),
        "the code is inline, not fetched"
    );
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("strikevote-checker.html");
    std::fs::write(&path, &file).unwrap();
    c.goto(&format!("file://{}", path.display())).await.unwrap();
    let server = c.find(Locator::Id("check-server")).await.unwrap();
    server.clear().await.unwrap();
    server.send_keys(&app.address).await.unwrap();
    c.find(Locator::Id("check-election"))
        .await
        .unwrap()
        .send_keys(id)
        .await
        .unwrap();
    c.find(Locator::Id("check-tracker"))
        .await
        .unwrap()
        .send_keys(tracker)
        .await
        .unwrap();
    click(c, "#check-form button").await;
    let said = filled_text(c, "check-result").await;
    assert!(
        said.contains("This sealed ballot held: No.")
            && said.contains("it gives exactly this tracker"),
        "{said}"
    );
    // A tracker no one checked: said so.
    let tracker_field = c.find(Locator::Id("check-tracker")).await.unwrap();
    tracker_field.clear().await.unwrap();
    tracker_field.send_keys(&"ab".repeat(32)).await.unwrap();
    click(c, "#check-form button").await;
    for _ in 0..50 {
        if text_of(c, "check-result")
            .await
            .contains("No ballot with this tracker")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        text_of(c, "check-result")
            .await
            .contains("No ballot with this tracker")
    );
    // The checker online, filled in from the ballot page's link, is accessible too.
    c.goto(&format!(
        "{}/check?election={id}&tracker={tracker}",
        app.address
    ))
    .await
    .unwrap();
    assert_accessible(c, "the checker").await;
    click(c, "#check-form button").await;
    assert!(
        filled_text(c, "check-result")
            .await
            .contains("This sealed ballot held: No.")
    );
}

both_backends! {
    async fn an_admin_previews_the_messages_and_follows_the_sending_in_chromium(db: &TestDb) {
        let id = create_election(db);
        let roster = db.path("roster.csv");
        std::fs::write(
            &roster,
            "member_id,local,name,email,language\nM0,600,Ana Díaz,m0@example.org,es\nM1,700,Ben Okafor,m1@example.org,\nM2,871,Cy Gone,bounce-m2@example.org,\n",
        )
        .unwrap();
        sv(db, &["roster", "import", "--election", &id, roster.to_str().unwrap()]).ok();
        let carol = official(db, "carol", "admin");
        let sink = SmtpSink::start(db);
        let port = sink.port;
        let app = spawn_app_custom(db, |s| {
            s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
            s.mail_from = Some("Local 871 Vote <vote@local871.example>".into());
            s.mail_per_minute = 6000;
        })
        .await;
        let base = app.address.clone();
        let (_driver, c) = browser(true).await;
        sign_in(&c, &base, "carol").await;
        c.goto(&format!("{base}/admin/elections/{id}")).await.unwrap();
        let server = text_of(&c, "email-server").await;
        assert!(server.contains(&format!("smtp://127.0.0.1:{port}")), "{server}");
        // The preview: every kind in every language, plain text, before anything is sent.
        click(&c, "#preview-messages").await;
        let page = c.source().await.unwrap();
        for words in ["Your ballot: Strike authorization 2026", "Su boleta:", "Reminder:", "Recordatorio:", "Result:", "Dear Ana Example,", "Local 871 Vote is holding a vote", "scan the square code on this letter", "escanee el código cuadrado"] {
            assert!(page.contains(words), "the preview lacks `{words}`");
        }
        assert!(sink.mails().is_empty(), "a preview sent something");
        assert_accessible(&c, "the messages preview").await;
        c.goto(&format!("{base}/admin/elections/{id}")).await.unwrap();
        click(&c, "#send-ballots").await;
        let notice = text_of(&c, "notice").await;
        assert!(notice.contains("3 ballots queued for email"), "{notice}");
        let mails = sink.wait_for(2);
        // The progress, counts only, once the outbox has drained.
        // Sent, bounced (the address refused), failed, not sent (voted), still to go.
        let row = r#"<th scope="row">Ballots</th><td>2</td><td>1</td><td>0</td><td>0</td><td>0</td></tr>"#;
        let mut page = String::new();
        for _ in 0..100 {
            c.goto(&format!("{base}/admin/elections/{id}")).await.unwrap();
            page = c.source().await.unwrap();
            if page.contains(row) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(page.contains(row), "the progress never showed 2 sent, 1 bounced: {page}");
        let failed = text_of(&c, "email-failed").await;
        assert!(failed.contains("M2"), "{failed}");
        assert_accessible(&c, "the dashboard's email panel").await;
        // The bounce needs a letter: the confirmation step says how many, and that the roster
        // gave no postal address for it.
        click(&c, "#letters-link").await;
        let needed = text_of(&c, "letters-needed").await;
        assert!(needed.contains("1 member needs a letter"), "{needed}");
        let without = text_of(&c, "letters-without-address").await;
        assert!(without.contains("1 of them has no postal address"), "{without}");
        assert_accessible(&c, "the letters confirmation").await;

        // Mid-vote a report says M0's email bounced after all: under the two-person rule the
        // letters page holds M0's link and asks a second admin for its letter.
        sv(db, &["election", "open", &id]).ok();
        let m0 = mails.iter().find(|m| m.to.contains("m0@example.org")).unwrap();
        let (status, said) = report_bounce(&app, &carol, &id, &dsn("m0@example.org", "failed", &message_id_of(m0))).await;
        assert_eq!((status, said["bounced"].as_u64()), (200, Some(1)), "{said}");
        c.goto(&format!("{base}/admin/elections/{id}/letters")).await.unwrap();
        let held = text_of(&c, "letters-held").await;
        assert!(held.contains("1 member's email bounced after the mail server took it"), "{held}");
        assert_accessible(&c, "the letters page holding a bounced link").await;
        c.find(Locator::Id("password-bounced")).await.unwrap().send_keys(PASSWORD).await.unwrap();
        submit(&c, &format!("/admin/elections/{id}/letters/bounced")).await;
        let notice = text_of(&c, "notice").await;
        assert!(notice.contains("Waiting for a second admin: print letters replacing the ballot links of 1 member"), "{notice}");
        let pending = text_of(&c, "pending").await;
        assert!(pending.contains("M0") && pending.contains("asked for by carol"), "{pending}");
        assert_accessible(&c, "the dashboard with letters waiting for a second admin").await;
        c.close().await.unwrap();
    }
}
