//! Email to members from the dashboard: sending the ballots (or the result), and a preview of
//! every message in every language before anything is sent.

use super::*;
use crate::notices::outbox::{self, Kind, State as Sent};
use crate::notices::texts;
use crate::web::i18n::Lang;

/// One kind of message on the dashboard's email panel: counts only.
pub struct EmailRow {
    /// Which messages.
    pub what: &'static str,
    /// Accepted by the SMTP server.
    pub sent: u64,
    /// Refused by it for good (5xx).
    pub bounced: u64,
    /// Not an address it takes, or out of tries.
    pub failed: u64,
    /// Not sent: the member had voted, or the vote closed first.
    pub skipped: u64,
    /// Still to go.
    pub pending: u64,
}

impl EmailRow {
    /// The messages done with, one way or another.
    pub fn done(&self) -> u64 {
        self.sent + self.bounced + self.failed + self.skipped
    }
}

/// The dashboard's email panel: counts only, and whose ballot notice failed.
pub(super) struct EmailPanel {
    /// The SMTP server (password hidden), or `None` when email is not configured.
    pub server: Option<String>,
    /// Per kind sent so far.
    pub rows: Vec<EmailRow>,
    /// Member ids whose ballot notice failed for good: they need a letter.
    pub failed: Vec<String>,
}

impl EmailPanel {
    /// Reads the outbox's counts of election `id`.
    pub(super) fn read(
        c: &mut crate::db::DbConnection,
        id: ElectionId,
        server: Option<String>,
    ) -> crate::error::Result<Self> {
        let progress = outbox::progress(c, id)?;
        let rows = Kind::ALL
            .iter()
            .filter(|k| progress.total(**k) > 0)
            .map(|k| {
                let what = match k {
                    Kind::Ballot => "Ballots",
                    Kind::Reminder => "Reminders",
                    Kind::Result => "Result notices",
                };
                EmailRow {
                    what,
                    sent: progress.of(*k, Sent::Sent),
                    bounced: progress.of(*k, Sent::Bounced),
                    failed: progress.of(*k, Sent::Failed),
                    skipped: progress.of(*k, Sent::Skipped),
                    pending: progress.pending(*k),
                }
            })
            .collect();
        Ok(Self {
            server,
            rows,
            failed: outbox::failed_members(c, id, Kind::Ballot)?,
        })
    }
}

/// The send form: the CSRF field and what to send.
#[derive(Deserialize)]
pub struct SendForm {
    csrf: String,
    kind: String,
}

/// `POST /admin/elections/{id}/notices`: queues the ballots (or the result) for every member
/// with an email address; the server's sender sends them.
pub async fn send_notices(desk: Desk, form: web::Form<SendForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    let kind = match crate::api::notices::kind_named(&form.kind) {
        Ok(k) => k,
        Err(e) => return desk.refused(&e).await,
    };
    if let Err(e) = crate::api::notices::require_mail(&desk.state) {
        return desk.refused(&e).await;
    }
    let id = desk.id;
    match desk.run(move |c| outbox::queue(c, id, kind, 0)).await {
        Ok(q) => {
            let what = if kind == Kind::Result {
                "result notices"
            } else {
                "ballots"
            };
            desk.show(Some(format!(
                "{} {what} queued for email; {} members have no email address and need a letter; \
                 {} already had it queued.{} The counts below follow the sending.",
                q.queued,
                q.without_email,
                q.already,
                if q.holding_token > 0 {
                    format!(
                        " {} members were left out: they hold a working link from the mailing \
                         file, and replacing it while the vote is open needs a second admin \
                         (reissue their tokens one by one).",
                        q.holding_token
                    )
                } else {
                    String::new()
                }
            )))
            .await
        }
        Err(e) => desk.refused(&e).await,
    }
}

#[derive(Template)]
#[template(path = "notices_preview.html")]
struct Preview {
    id: String,
    title: String,
    /// Per language and kind: heading, subject, body.
    messages: Vec<(String, String, String, String)>,
    /// Whether reminders are set in the definition, and when.
    reminders: Vec<String>,
    server: Option<String>,
}

/// `GET /admin/elections/{id}/notices/preview`: every message, in every language, as members
/// will read it (a sample member; the link stands for each member's own).
pub async fn preview_notices(desk: Desk) -> HttpResponse {
    let id = desk.id;
    let e = match desk.run(move |c| election::find(c, id)).await {
        Ok(e) => e,
        Err(e) => return desk.refused(&e).await,
    };
    let mail = desk.state.settings.mail().ok().flatten();
    let settings = &desk.state.settings;
    let (union, fallback) = match (&mail, settings.union().as_str()) {
        (Some(m), _) => (m.union.clone(), m.from.email.to_string()),
        (None, "") => (
            "(union_name is not set)".to_owned(),
            "(mail_from)".to_owned(),
        ),
        (None, union) => (union.to_owned(), settings.contact_fallback()),
    };
    let fingerprint = crate::log::note::fingerprint(&desk.state.signer.public_key());
    let link = format!("{}/vote?token=…", e.public_url);
    let mut messages = Vec::new();
    for lang in Lang::all() {
        for kind in Kind::ALL {
            let facts = texts::Facts {
                election: &e,
                union: &union,
                fallback_contact: &fallback,
                name: "Ana Example",
                link: kind.carries_token().then_some(link.as_str()),
                fingerprint: &fingerprint,
            };
            let letter = texts::compose(*kind, lang, &facts);
            messages.push((
                format!("{} — {kind}", lang.name()),
                lang.code().to_owned(),
                letter.subject,
                letter.body,
            ));
        }
        let facts = texts::Facts {
            election: &e,
            union: &union,
            fallback_contact: &fallback,
            name: "Ana Example",
            link: Some(&link),
            fingerprint: &fingerprint,
        };
        messages.push((
            format!("{} — letter by post", lang.name()),
            lang.code().to_owned(),
            texts::compose(Kind::Ballot, lang, &facts).subject,
            texts::letter_body(lang, &facts),
        ));
    }
    let page = Preview {
        id: id.to_string(),
        title: e.definition.title.clone(),
        messages,
        reminders: e
            .definition
            .reminders
            .iter()
            .map(|at| e.definition.local_time(at))
            .collect(),
        server: mail.map(|m| m.server_shown()),
    };
    html(StatusCode::OK, &page, None)
}

#[derive(Template)]
#[template(path = "letters.html")]
struct LettersPage {
    id: String,
    title: String,
    csrf: String,
    /// Members who need a letter and have no token yet.
    needy: usize,
    /// Of them, those with no postal address on the roster.
    without_address: usize,
    /// Of them, those whose letter replaces the link of an email that bounced after it was
    /// sent.
    replacing: usize,
    /// Members whose email bounced after it was sent, left out: the vote is open under the
    /// two-person rule.
    held: usize,
    /// The same per local, for a mail house's batches.
    locals: Vec<(String, crate::notices::letters::Pending)>,
    /// The paper the letters are laid out for.
    paper: &'static str,
}

/// `GET /admin/elections/{id}/letters`: the confirmation step, saying how many letters and
/// how many of them lack a postal address.
pub async fn letters_page(desk: Desk) -> HttpResponse {
    let id = desk.id;
    let found = desk
        .run(move |c| {
            let e = election::find(c, id)?;
            Ok((e, crate::notices::letters::pending(c, id)?))
        })
        .await;
    let (e, (all, locals)) = match found {
        Ok(found) => found,
        Err(e) => return desk.refused(&e).await,
    };
    let (csrf, cookie) = csrf(&desk.req, &desk.state);
    let page = LettersPage {
        id: id.to_string(),
        title: e.definition.title,
        csrf,
        needy: all.letters,
        without_address: all.without_address,
        replacing: all.replacing,
        held: all.held,
        locals,
        paper: match desk.state.settings.letter_paper {
            crate::settings::Paper::Letter => "US Letter, for a #10 window envelope",
            crate::settings::Paper::A4 => "A4, for a DL window envelope",
        },
    };
    html(StatusCode::OK, &page, cookie)
}

/// The letters form: confirmed with the password, for every local or one.
#[derive(serde::Deserialize)]
pub struct LettersForm {
    csrf: String,
    #[serde(default)]
    password: String,
    /// A local's code, or empty for all.
    #[serde(default)]
    local: String,
}

/// `POST /admin/elections/{id}/letters/bounced`: asks a second admin to approve letters
/// replacing the links of the members whose email bounced after sending (the letters page's
/// held members), confirmed with the password; the asker downloads them once approved.
pub async fn ask_bounced_letters(
    desk: Desk,
    form: web::Form<super::tokens::ConfirmedForm>,
) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let id = desk.id;
    match desk
        .run(move |c| crate::notices::letters::bounced_request(c, id))
        .await
    {
        Ok(action) => desk.ask_second(action, desk.who.username.clone()).await,
        Err(e) => desk.refused(&e).await,
    }
}

/// `POST /admin/elections/{id}/letters`: issues the letters' tokens; the PDF downloads once.
pub async fn issue_letters(desk: Desk, form: web::Form<LettersForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let ((signer, by), id) = (desk.actor(), desk.id);
    let head = crate::notices::letters::Letterhead::of(&desk.state.settings, &signer);
    // An empty choice is every local.
    let local = Some(form.into_inner().local).filter(|l| !l.is_empty());
    let asked = local.clone();
    match desk
        .run(move |c| {
            crate::notices::letters::issue(c, id, (&signer, &by), &head, asked.as_deref())
        })
        .await
    {
        Ok((0, _)) => {
            let nothing = "Nobody needs a letter now: every member without an email address \
                           already holds a ballot link, and no email failed.";
            desk.show(Some(nothing.into())).await
        }
        Ok((n, pdf)) => crate::web::page::letters_download(id, local.as_deref(), n, pdf),
        Err(e) => desk.refused(&e).await,
    }
}
