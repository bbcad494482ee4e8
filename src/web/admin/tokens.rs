//! The roster upload and the tokens: issuing them, replacing every unused one, reissuing one
//! member's (each with its confirmation step), and the tellers' invitation codes.

use super::*;

/// `POST /admin/elections/{id}/roster` (multipart: `roster`, `csrf`).
pub async fn upload_roster(desk: Desk, payload: web::Payload) -> HttpResponse {
    let limit = desk.state.settings.upload_limit_bytes;
    let fields = match read_multipart(&desk.req, payload, limit).await {
        Ok(f) => f,
        Err(e) => return desk.refused(&e).await,
    };
    if !desk.fresh(&field_text(&fields, "csrf")) {
        return desk.expired().await;
    }
    let bytes = fields.get("roster").cloned().unwrap_or_default();
    let ((signer, by), id) = (desk.actor(), desk.id);
    let max_rows = desk.state.settings.upload_max_rows;
    let imported = desk
        .run(move |c| roster::import(c, id, &bytes, &signer, &by, Some(max_rows), &|_, _| {}))
        .await;
    match imported {
        Ok(s) => {
            desk.show(Some(format!(
                "Roster imported: {} members ({} added, {} updated, {} removed).",
                s.members, s.added, s.updated, s.removed
            )))
            .await
        }
        Err(e) => {
            // The roster error lists every bad line, one per line of its message.
            let problems = e
                .to_string()
                .lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect();
            desk.problems(e.status(), problems).await
        }
    }
}

/// A confirmation form: the CSRF field and the official's password, typed again.
#[derive(Deserialize)]
pub struct ConfirmedForm {
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) password: String,
}

/// `POST /admin/elections/{id}/tokens`: issues the missing tokens; the CSV downloads once.
pub async fn issue_tokens(desk: Desk, form: web::Form<ConfirmedForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let ((signer, by), id) = (desk.actor(), desk.id);
    match desk
        .run(move |c| token_store::issue_mailing(c, id, &signer, &by))
        .await
    {
        Ok((0, _)) => {
            let nothing = "Every member already has a token; nothing was issued.";
            desk.show(Some(nothing.into())).await
        }
        Ok((n, csv)) => mailing_download(id, n, csv),
        Err(e) => desk.refused(&e).await,
    }
}

#[derive(Template)]
#[template(path = "issue_tokens.html")]
struct IssueTokens {
    id: String,
    title: String,
    csrf: String,
    needy: i64,
    /// Per local: code, members, members with a token, members who will get one.
    rows: Vec<(String, i64, i64, i64)>,
}

/// `GET /admin/elections/{id}/tokens`: the confirmation step, saying how many members of each
/// local will get a token.
pub async fn issue_tokens_page(desk: Desk) -> HttpResponse {
    let id = desk.id;
    let found = desk
        .run(move |c| {
            let e = election::find(c, id)?;
            Ok((e.clone(), election::local_counts(c, &e)?))
        })
        .await;
    let (e, counts) = match found {
        Ok(found) => found,
        Err(e) => return desk.refused(&e).await,
    };
    let rows: Vec<(String, i64, i64, i64)> = counts
        .into_iter()
        .map(|(code, l)| {
            let have = l.tokens_live + l.tokens_used;
            (code, l.eligible, have, l.eligible - have)
        })
        .collect();
    let (csrf, cookie) = csrf(&desk.req, &desk.state);
    let page = IssueTokens {
        id: id.to_string(),
        title: e.definition.title,
        csrf,
        needy: rows.iter().map(|r| r.3).sum(),
        rows,
    };
    html(StatusCode::OK, &page, cookie)
}

#[derive(Template)]
#[template(path = "reissue_all.html")]
struct ReissueAll {
    id: String,
    title: String,
    csrf: String,
    live: i64,
}

/// `GET /admin/elections/{id}/reissue-all`: the confirmation step, saying how many unused
/// tokens would stop working.
pub async fn reissue_all_page(desk: Desk) -> HttpResponse {
    let id = desk.id;
    let found = desk
        .run(move |c| {
            let e = election::find(c, id)?;
            let counts = election::local_counts(c, &e)?;
            Ok((e, counts.values().map(|l| l.tokens_live).sum::<i64>()))
        })
        .await;
    match found {
        Ok((e, live)) => {
            let (csrf, cookie) = csrf(&desk.req, &desk.state);
            let page = ReissueAll {
                id: id.to_string(),
                title: e.definition.title,
                csrf,
                live,
            };
            html(StatusCode::OK, &page, cookie)
        }
        Err(e) => desk.refused(&e).await,
    }
}

/// `POST /admin/elections/{id}/reissue-all`: revokes every live token, issues new ones to every
/// member who has not voted, and downloads their mailing.
pub async fn reissue_all(desk: Desk, form: web::Form<ConfirmedForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let ((signer, by), id) = (desk.actor(), desk.id);
    let who = by.clone();
    match desk
        .run(move |c| token_store::reissue_mailing(c, id, &signer, &who))
        .await
    {
        Err(e) if e.code() == ErrorCode::ApprovalNeeded => {
            desk.ask_second(Action::ReissueAll, by).await
        }
        done => reissued_all(&desk, done).await,
    }
}

/// The answer once every unused token is replaced: the mailing file.
pub(super) async fn reissued_all(
    desk: &Desk,
    done: crate::error::Result<(usize, Vec<u8>)>,
) -> HttpResponse {
    match done {
        Ok((0, _)) => {
            let nothing = "Every member has voted; no token was replaced.";
            desk.show(Some(nothing.into())).await
        }
        Ok((n, csv)) => mailing_download(desk.id, n, csv),
        Err(e) => desk.refused(&e).await,
    }
}

#[derive(Template)]
#[template(path = "reissued.html")]
struct Reissued {
    id: String,
    member: String,
    token: String,
    url: String,
}

/// Form of `POST /admin/elections/{id}/reissue`.
#[derive(Deserialize)]
pub struct ReissueForm {
    csrf: String,
    member: String,
    /// `yes` once the official has seen whose token it is.
    confirm: Option<String>,
    /// The official's password, typed again with the confirmation.
    #[serde(default)]
    password: String,
}

#[derive(Template)]
#[template(path = "reissue_confirm.html")]
struct ReissueConfirm {
    id: String,
    title: String,
    csrf: String,
    member: String,
    name: String,
    local: String,
}

/// `POST /admin/elections/{id}/reissue`: revokes the member's token; shows the new one once.
pub async fn reissue_token(desk: Desk, form: web::Form<ReissueForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    let member = form.member.trim().to_owned();
    let ((signer, by), id) = (desk.actor(), desk.id);
    if form.confirm.as_deref() != Some("yes") {
        // First say whose token it is; nothing changes until the official confirms.
        let who = member.clone();
        let found = desk
            .run(move |c| Ok((election::find(c, id)?, crate::roster::member(c, id, &who)?)))
            .await;
        return match found {
            Ok((e, m)) => {
                let (csrf, cookie) = csrf(&desk.req, &desk.state);
                let local = e
                    .definition
                    .local(&m.local)
                    .map_or(m.local.clone(), |l| format!("{} — {}", l.code, l.name));
                let name = match m.name.trim() {
                    "" => format!("member {}", m.member_id),
                    name => name.to_owned(),
                };
                let page = ReissueConfirm {
                    id: id.to_string(),
                    title: e.definition.title,
                    csrf,
                    member: m.member_id,
                    name,
                    local,
                };
                html(StatusCode::OK, &page, cookie)
            }
            Err(e) => desk.refused(&e).await,
        };
    }
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let (who, asked) = (by.clone(), member.clone());
    match desk
        .run(move |c| token_store::reissue(c, id, &asked, &signer, &who))
        .await
    {
        Err(e) if e.code() == ErrorCode::ApprovalNeeded => {
            desk.ask_second(Action::Reissue { member }, by).await
        }
        done => reissued(&desk, done).await,
    }
}

/// The answer once a member's token is reissued: the new token, shown once.
pub(super) async fn reissued(
    desk: &Desk,
    done: crate::error::Result<token_store::IssuedToken>,
) -> HttpResponse {
    match done {
        Ok(t) => html(
            StatusCode::OK,
            &Reissued {
                id: desk.id.to_string(),
                member: t.member_id,
                token: t.token.expose().to_owned(),
                url: t.ballot_url,
            },
            None,
        ),
        Err(e) => desk.refused(&e).await,
    }
}

#[derive(Template)]
#[template(path = "invitations.html")]
struct Invitations {
    id: String,
    title: String,
    /// The address tellers reach the vote at.
    server: String,
    /// The log key's fingerprint, which each teller pins.
    fingerprint: String,
    /// The SHA-256 of the `strikevote-teller` program installed beside this server.
    program_sha256: Option<String>,
    rows: Vec<(u32, String, String)>,
    /// The key ceremony restarted to give this seat to someone else.
    restarted: bool,
}

/// Form of `POST /admin/elections/{id}/invitations`.
#[derive(Deserialize)]
pub struct InvitationsForm {
    csrf: String,
    /// `pdf`: the invitations as printable sheets, one page per teller; else a page of cards.
    #[serde(default)]
    format: String,
    /// A teller's number: that teller's code alone (their seat handed to someone else);
    /// empty: every teller's.
    #[serde(default)]
    teller: String,
    /// `yes`: if that teller has published their key, restart the key ceremony to replace them.
    #[serde(default)]
    restart: String,
}

/// Every teller's new code, or (`only`) one seat's, given to someone else — restarting the key
/// ceremony if `restart` and its teller had published; whether it restarted.
fn codes_for(
    c: &mut crate::db::DbConnection,
    (signer, by): (&crate::log::LogKey, &str),
    id: crate::election::ElectionId,
    only: Option<u32>,
    restart: bool,
) -> crate::error::Result<(Vec<(u32, String)>, bool)> {
    use crate::teller::invitations;
    Ok(match only {
        None => (invitations::issue(c, id)?, false),
        Some(t) => {
            let r = invitations::replace(c, signer, (id, t), by, restart)?;
            (vec![(t, r.code)], r.restarted)
        }
    })
}

/// `POST /admin/elections/{id}/invitations`: new invitation codes for every teller, shown once
/// — as a page of cards, or (`format=pdf`) as one PDF of printable sheets.
pub async fn issue_invitations(desk: Desk, form: web::Form<InvitationsForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    let id = desk.id;
    let only = match form.teller.trim() {
        "" => None,
        n => match n.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let e = crate::error::Error::bad_input(
                    ErrorCode::InvalidBody,
                    format!("`{}` is not a teller number", crate::text::shown(n)),
                );
                return desk.refused(&e).await;
            }
        },
    };
    let (signer, by) = desk.actor();
    let restart = form.restart == "yes";
    let issued = desk
        .run(move |c| {
            let codes = codes_for(c, (&signer, &by), id, only, restart)?;
            Ok((election::find(c, id)?, codes))
        })
        .await;
    let fingerprint = crate::log::note::fingerprint(&desk.state.signer.public_key());
    let program_sha256 = crate::teller::invitations::teller_program_sha256(
        desk.state.settings.teller_program.as_deref(),
    );
    if let (Ok((e, (codes, _))), "pdf") = (&issued, form.format.as_str()) {
        let sheet = crate::teller::sheets::Sheet {
            election: e,
            fingerprint: &fingerprint,
            program_sha256: program_sha256.as_deref(),
            paper: desk.state.settings.letter_paper,
        };
        return match crate::teller::sheets::pdf(&sheet, codes) {
            Ok(pdf) => HttpResponse::Ok()
                .content_type("application/pdf")
                .insert_header(actix_web::http::header::ContentDisposition::attachment(
                    format!("teller-invitations-{id}.pdf"),
                ))
                .insert_header(("Cache-Control", "no-store"))
                .body(pdf),
            Err(e) => desk.refused(&e).await,
        };
    }
    match issued {
        Ok((e, (codes, restarted))) => html(
            StatusCode::OK,
            &Invitations {
                id: id.to_string(),
                title: e.definition.title.clone(),
                server: e.public_url.to_string(),
                fingerprint,
                program_sha256,
                rows: codes
                    .into_iter()
                    .map(|(t, code)| {
                        // Only a name the definition gives (the heading says the number).
                        let name = e.definition.tellers.name(t);
                        let name = if name == format!("teller {t}") {
                            String::new()
                        } else {
                            name
                        };
                        (t, name, code)
                    })
                    .collect(),
                restarted,
            },
            None,
        ),
        Err(e) => desk.refused(&e).await,
    }
}
