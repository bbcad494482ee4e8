//! Every route × every kind of caller, generated from the route table itself, and the embargo
//! across every readable route for every role.

use actix_web::http::Method;
use strikevote::account::Role;
use strikevote::routes::{Access, ROUTES};

use crate::both_backends;
use crate::helpers::*;

/// Who is calling.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Anonymous,
    MemberToken,
    Official(Role),
}

const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::MemberToken,
    Caller::Official(Role::Observer),
    Caller::Official(Role::Auditor),
    Caller::Official(Role::Admin),
];

/// A signed-in browser for pages and an API token, per official.
struct Credentials {
    page: reqwest::Client,
    csrf: String,
    api: Option<String>,
}

async fn sign_in(app: &TestApp, username: &str, token: Option<String>) -> Credentials {
    let page = browser();
    let (_, form) = get(&page, &format!("{}/login", app.address)).await;
    let mut csrf = csrf_of(&form);
    if token.is_some() {
        let res = page
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
        let session = res
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            session
                .as_deref()
                .is_some_and(|c| c.starts_with("sv_session=")
                    && c.contains("HttpOnly")
                    && c.contains("SameSite=Strict"))
        );
        // Signed in, forms carry the value bound to the session.
        let (_, dashboard) = get(&page, &format!("{}/admin", app.address)).await;
        csrf = csrf_of(&dashboard);
    }
    Credentials {
        page,
        csrf,
        api: token,
    }
}

fn concrete(path: &str, id: &str) -> String {
    path.replace("{id}", id)
        .replace("{receipt}", "7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE")
        .replace("{file}", "checkpoint")
        .replace("{teller}", "1")
}

async fn call(
    app: &TestApp,
    creds: &Credentials,
    caller: Caller,
    member_token: &str,
    method: &Method,
    path: &str,
) -> (u16, String, String) {
    let url = format!("{}{path}", app.address);
    let api = path.starts_with("/api/");
    let client = &creds.page;
    let mut req = if *method == Method::GET {
        client.get(&url)
    } else {
        client.post(&url)
    };
    if api {
        match caller {
            Caller::MemberToken => req = req.bearer_auth(member_token),
            Caller::Official(_) => req = req.bearer_auth(creds.api.as_deref().unwrap_or_default()),
            Caller::Anonymous => {}
        }
        if *method == Method::POST {
            req = req.json(&serde_json::json!({}));
        }
    } else {
        if caller == Caller::MemberToken {
            req = req.header("Cookie", format!("sv_session={member_token}"));
        }
        if *method == Method::POST {
            // An official's password too: some forms ask for it again.
            req = req.form(&[("csrf", creds.csrf.as_str()), ("password", PASSWORD)]);
        }
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

both_backends! {
    async fn every_route_checks_every_role(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 6);
        let app = spawn_app(db).await;
        let mut creds = Vec::new();
        for caller in CALLERS {
            let c = match caller {
                Caller::Official(role) => {
                    let name = format!("{}-one", role.as_str());
                    let token = official(db, &name, role.as_str());
                    sign_in(&app, &name, Some(token)).await
                }
                _ => sign_in(&app, "nobody", None).await,
            };
            creds.push((caller, c));
        }
        let member_token = tokens[0].1.clone();
        let mut checked = 0;
        // Logout last, so the sessions live through the whole walk.
        let mut endpoints: Vec<(&str, &Method, Access)> = ROUTES
            .iter()
            .flat_map(|r| r.endpoints.iter().map(move |e| (r.path, &e.method, e.access)))
            .collect();
        endpoints.sort_by_key(|(p, _, _)| *p == "/logout");
        assert!(endpoints.len() >= 40, "the table lists every route");
        for (pattern, method, access) in endpoints {
            let path = concrete(pattern, &id);
            let api = path.starts_with("/api/");
            for (caller, c) in &creds {
                let (status, location, body) = call(&app, c, *caller, &member_token, method, &path).await;
                let what = format!("{method} {pattern} as {caller:?}: {status} {location} {}", body.chars().take(200).collect::<String>());
                let to_login = status == 303 && location.starts_with("/login?next=");
                let auth_refusal = status == 401 || to_login || body.contains("may not do this");
                match (access, caller) {
                    (Access::Public, _) => assert!(!auth_refusal, "public route refused: {what}"),
                    // Nobody here holds an invitation code: every caller is refused.
                    (Access::Teller, _) => {
                        assert_eq!(status, 401, "{what}");
                        assert!(body.contains("\"error\":\"unauthorized\""), "{what}");
                    }
                    (Access::Roles(_), Caller::Anonymous | Caller::MemberToken) if api => {
                        assert_eq!(status, 401, "{what}");
                        assert!(body.contains("\"error\":\"unauthorized\""), "{what}");
                    }
                    (Access::Roles(_), Caller::Anonymous | Caller::MemberToken) => assert!(to_login, "{what}"),
                    (Access::Roles(roles), Caller::Official(role)) if roles.contains(role) => {
                        assert!(!auth_refusal && status != 403, "allowed role refused: {what}");
                    }
                    (Access::Roles(_), Caller::Official(_)) => {
                        assert_eq!(status, 403, "{what}");
                        assert!(body.contains("may not do this"), "{what}");
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 200, "{checked} checks");
    }
}

both_backends! {
    async fn no_answer_for_any_role_reveals_choices_before_close(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 9);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        for (i, (_, token)) in tokens.iter().enumerate() {
            let (status, _) = app.cast(token, if i < 7 { "yes" } else { "no" }).await;
            assert_eq!(status, 200);
        }
        let mut creds = Vec::new();
        for caller in CALLERS {
            let c = match caller {
                Caller::Official(role) => {
                    let name = format!("{}-two", role.as_str());
                    let token = official(db, &name, role.as_str());
                    sign_in(&app, &name, Some(token)).await
                }
                _ => sign_in(&app, "nobody", None).await,
            };
            creds.push((caller, c));
        }
        let mut read = 0;
        for resource in ROUTES {
            for endpoint in resource.endpoints.iter().filter(|e| e.method == Method::GET) {
                let path = concrete(resource.path, &id);
                for (caller, c) in &creds {
                    let (status, _, body) = call(&app, c, *caller, &tokens[0].1, &endpoint.method, &path).await;
                    // The API's description names the fields of a ballot request; it holds no data.
                    if resource.path == "/api/v1/openapi.json" {
                        continue;
                    }
                    for leak in ["\"choice\":", "\"yes\":", "Results by local", "popular vote", "Popular vote"] {
                        assert!(!body.contains(leak), "GET {} as {caller:?} ({status}) shows `{leak}` before close: {body}", resource.path);
                    }
                    read += 1;
                }
            }
        }
        assert!(read >= 100);
        // The dashboard shows turnout (9 of 9) but not how anyone voted.
        let observer = &creds.iter().find(|(c, _)| *c == Caller::Official(Role::Observer)).unwrap().1;
        let (status, page) = get(&observer.page, &format!("{}/admin/elections/{id}", app.address)).await;
        assert_eq!(status, 200);
        assert!(page.contains("<td id=\"cast-total\">9</td>"), "{page}");
        assert!(page.contains("<svg class=\"chart\""), "turnout chart drawn on the server");
    }
}

/// Other spellings of `path` that a router or a proxy might treat as the same route.
fn variants(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Percent-encode the first letter of each literal segment, one at a time.
    let segments: Vec<&str> = path.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if let Some(c) = seg.chars().next().filter(|c| c.is_ascii_lowercase()) {
            let mut s = segments.clone();
            let encoded = format!("%{:02X}{}", c as u32, &seg[1..]);
            s[i] = &encoded;
            out.push(s.join("/"));
            out.push(s.join("/").replace(&encoded, &encoded.to_lowercase()));
        }
    }
    out.push(format!("/{path}"));
    out.push(path.replacen('/', "//", 2).replacen("//", "/", 1));
    out.push(format!("{path}/"));
    out.push(path.to_uppercase().replace(
        &path.to_uppercase()[path.len() - 36.min(path.len())..],
        &path[path.len() - 36.min(path.len())..],
    ));
    out.push(
        path.replacen("/api/", "/API/", 1)
            .replacen("/admin", "/Admin", 1),
    );
    out.push(path.replace('/', "/./"));
    out.push(format!("/x/..{path}"));
    out.sort();
    out.dedup();
    out.retain(|v| v != path);
    out
}

both_backends! {
    async fn protected_routes_cannot_be_reached_by_spelling_their_path_differently(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        assert_eq!(app.cast(&tokens[0].1, "yes").await.0, 200);
        let anonymous = sign_in(&app, "nobody", None).await;
        let observer_token = official(db, "observer-three", "observer");
        let observer = sign_in(&app, "observer-three", Some(observer_token)).await;
        let mut tried = 0;
        for resource in ROUTES {
            for endpoint in resource.endpoints {
                let Access::Roles(roles) = endpoint.access else { continue };
                let canonical = concrete(resource.path, &id);
                for path in variants(&canonical) {
                    let (status, location, body) = call(&app, &anonymous, Caller::Anonymous, &tokens[1].1, &endpoint.method, &path).await;
                    let what = format!("{} {path} anonymous: {status} {location} {}", endpoint.method, body.chars().take(160).collect::<String>());
                    let refused = status == 401 || status == 404 || status == 405 || status == 400
                        || (status == 303 && location.starts_with("/login?next="));
                    assert!(refused, "reached a protected route: {what}");
                    assert!(!body.contains("\"cast\"") && !body.contains("tokens_used"), "{what}");
                    if !roles.contains(&Role::Observer) {
                        let (status, _, body) = call(&app, &observer, Caller::Official(Role::Observer), &tokens[1].1, &endpoint.method, &path).await;
                        assert!(matches!(status, 401 | 403 | 404 | 405 | 400), "an observer reached an admin route: {} {path}: {status} {body}", endpoint.method);
                    }
                    tried += 1;
                }
            }
        }
        assert!(tried >= 150, "{tried} spellings tried");
        // The case the attack used: live turnout through an encoded `e`.
        let (status, body) = app.get(&format!("/api/v1/%65lections/{id}/turnout")).await;
        assert_eq!(status, 401, "{body}");
        let (status, body) = app.get("/api/v1/%65lections").await;
        assert_eq!(status, 401, "{body}");
    }
}

both_backends! {
    async fn an_unknown_state_action_changes_nothing(db: &TestDb) {
        let (id, _) = prepared_election(db, 3);
        let app = spawn_app(db).await;
        let token = official(db, "admin-four", "admin");
        let admin = sign_in(&app, "admin-four", Some(token)).await;
        let before = show(db, &id);
        for action in ["", "certify ", "CERTIFY", "reopen", "delete", "open;close"] {
            let res = admin.page.post(format!("{}/admin/elections/{id}/state", app.address))
                .form(&[("csrf", admin.csrf.as_str()), ("action", action)])
                .send().await.unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            assert_eq!(status, 400, "action `{action}`: {body}");
            assert!(body.contains("open, close or certify") || body.contains("Unknown action"), "{body}");
        }
        let after = show(db, &id);
        assert_eq!(after["state"], "draft");
        assert_eq!(after["log_size"], before["log_size"], "nothing was logged");
    }
}
