//! Talking to pages like a browser: cookies, forms, CSRF values, receipts.

use super::*;

/// An HTTP client that keeps cookies like a browser and does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A refusal sent before the request body is read closes the connection; a pooled
        // connection could then be reused just as it closes (a browser would retry).
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// GET a page: status and body.
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let res = client.get(url).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// POST a form: status and body. A cast ballot is answered post-redirect-get (303 to
/// `/vote/done`, whose cookie carries the receipt): that page is fetched, as a browser would.
pub async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = client.post(url).form(form).send().await.unwrap();
    let done = res
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .filter(|l| res.status() == 303 && l.starts_with("/vote/done"))
        .map(|l| reqwest::Url::parse(url).unwrap().join(l).unwrap());
    if let Some(done) = done {
        return get(client, done.as_str()).await;
    }
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The value of `name="csrf"` in a page.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field");
    page[at + 19..at + 19 + 32].to_owned()
}

/// The receipt on a confirmation page.
pub fn receipt_of(page: &str) -> String {
    let at = page
        .find("<code id=\"receipt\">")
        .expect("the receipt element");
    page[at + 19..at + 19 + 34].to_owned()
}

/// Votes through the HTML form like a member: open the ballot link, submit the choice.
pub async fn vote_by_form(app: &TestApp, token: &str, choice: &str) -> String {
    let client = browser();
    let (status, page) = get(&client, &format!("{}/vote?token={token}", app.address)).await;
    assert_eq!(status, 200, "{page}");
    let csrf = csrf_of(&page);
    let (status, page) = post(
        &client,
        &format!("{}/vote", app.address),
        &[("token", token), ("choice", choice), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    receipt_of(&page)
}

/// The hex hashes of a JSON proof (`inclusion_proof`, `hashes`) as Merkle hashes.
pub fn hashes(v: &serde_json::Value) -> Vec<strikevote::log::merkle::Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

/// Signs `username` in to the pages; a cookie-keeping client.
pub async fn signed_in(app: &crate::helpers::TestApp, username: &str) -> reqwest::Client {
    let client = browser();
    let (_, form) = get(&client, &format!("{}/login", app.address)).await;
    let csrf = csrf_of(&form);
    let res = client
        .post(format!("{}/login", app.address))
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "login of {username}");
    client
}

/// The text of `page` between `start` and the next `end` (the test fails if either is missing).
pub fn between(page: &str, start: &str, end: &str) -> String {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {page}"))
        + start.len();
    let to = page[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end} after {start}"))
        + from;
    page[from..to].to_owned()
}
