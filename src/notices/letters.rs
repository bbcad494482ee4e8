//! Letters by post: for members without an email address and those whose ballot or reminder
//! email failed, one PDF for the mail house with one page per member — the ballot link as text
//! and as a QR code, the typed ballot code, the vote's dates in the election's zone, the
//! contact line, the key fingerprint and where the result will be, in the member's language,
//! with the name and postal address placed for a window envelope.
//!
//! The tokens are made when the PDF is made ([`crate::token::store::issue_among`], an
//! official's `tokens_issue` in the log) and exist in plain text only in the PDF, which is
//! downloaded once. A member whose latest email bounced only after the mail server took it
//! (a report read later, [`super::bounces`]) still holds the link that email carried: their
//! letter replaces it (an official's `token_reissue` per member) — except while the vote is
//! open under the two-person rule, when replacing a link that may be working needs a second
//! admin: those members are counted apart, for a reissue each. Text is drawn in the embedded font of [`crate::web::pdf`].

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use printpdf::{IndirectFontRef, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference};

use super::outbox::{Kind, State};
use super::texts;
use crate::db::DbConnection;
use crate::db::schema::{members, outbox, tokens};
use crate::election::approval::{self, Action};
use crate::election::{Election, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
pub use crate::settings::Paper;
use crate::token::TokenStatus;
use crate::token::store::IssuedToken;
use crate::web::i18n::Lang;
use crate::web::pdf::{self, Font, MM_PER_PT};

/// The page's left and right margins (mm).
const MARGIN: f32 = 25.0;
/// The QR code's side, quiet zone included (mm).
const QR_SIDE: f32 = 42.0;
/// The bottom of the ballot-code block (mm from the page's foot).
const CODE_BOTTOM: f32 = 24.0;

impl Paper {
    /// Width and height (mm).
    pub fn size(self) -> (f32, f32) {
        match self {
            Paper::Letter => (215.9, 279.4),
            Paper::A4 => (210.0, 297.0),
        }
    }

    /// Where the window's first line sits: from the page's left and top (mm).
    fn window(self) -> (f32, f32) {
        match self {
            Paper::Letter => (25.4, 54.0),
            Paper::A4 => (25.0, 62.0),
        }
    }
}

/// Who needs a letter (their rows in `members`): members with no email address, and members a
/// ballot or reminder email to whom bounced or failed — of local `local` alone when given (a
/// mail house's batch; `unknown_local` if the election has no such local). Whether they
/// already hold a token is the token store's to check, under the election's lock.
pub fn who_needs_one(
    conn: &mut DbConnection,
    id: ElectionId,
    local: Option<&str>,
) -> Result<HashSet<String>> {
    let eid = id.to_string();
    let mut rows: HashSet<String> = members::table
        .filter(members::election_id.eq(&eid))
        .filter(members::email.eq(""))
        .select(members::id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    rows.extend(
        outbox::table
            .filter(outbox::election_id.eq(&eid))
            .filter(outbox::kind.eq_any([Kind::Ballot, Kind::Reminder]))
            .filter(outbox::state.eq_any(State::UNDELIVERED))
            .select(outbox::member)
            .load::<String>(conn)?,
    );
    if let Some(code) = local {
        let election = crate::election::find(conn, id)?;
        if election.definition.local(code).is_none() {
            return Err(Error::bad_input(
                ErrorCode::UnknownLocal,
                format!("election {id} has no local `{}`", crate::text::shown(code)),
            ));
        }
        let in_local: HashSet<String> = members::table
            .filter(members::election_id.eq(&eid))
            .filter(members::local_code.eq(code))
            .select(members::id)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        rows.retain(|row| in_local.contains(row));
    }
    Ok(rows)
}

/// The members of `among` (rows of `members`) whose latest ballot or reminder email bounced and
/// who still hold the live link that email carried (issued before it was sent; a link made
/// since, by a reissue, is not it), which may never have reached them — with their member ids.
fn bounced_holders(
    conn: &mut DbConnection,
    id: ElectionId,
    among: &HashSet<String>,
) -> Result<Vec<(String, String)>> {
    let eid = id.to_string();
    type At = chrono::NaiveDateTime;
    let sent: Vec<(String, State, At, Option<At>)> = outbox::table
        .filter(outbox::election_id.eq(&eid))
        .filter(outbox::kind.eq_any([Kind::Ballot, Kind::Reminder]))
        .select((
            outbox::member,
            outbox::state,
            outbox::queued_at,
            outbox::sent_at,
        ))
        .load(conn)?;
    let mut latest: HashMap<String, (At, State, Option<At>)> = HashMap::new();
    for (member, state, queued, sent_at) in sent {
        let slot = latest.entry(member).or_insert((queued, state, sent_at));
        if queued > slot.0 {
            *slot = (queued, state, sent_at);
        }
    }
    // Members whose latest message bounced after it was sent, and when it was sent.
    let bounced: HashMap<String, At> = latest
        .into_iter()
        .filter(|(m, (_, state, _))| *state == State::Bounced && among.contains(m))
        .filter_map(|(m, (_, _, sent_at))| sent_at.map(|at| (m, at)))
        .collect();
    let candidates: Vec<&String> = bounced.keys().collect();
    let live: Vec<(String, At)> = tokens::table
        .filter(tokens::election_id.eq(&eid))
        .filter(tokens::status.eq(TokenStatus::Live))
        .filter(tokens::member.eq_any(candidates))
        .select((tokens::member, tokens::issued_at))
        .load(conn)?;
    let rows: Vec<String> = live
        .into_iter()
        .filter(|(m, issued)| bounced.get(m).is_some_and(|sent| issued <= sent))
        .map(|(m, _)| m)
        .collect();
    let mut found: Vec<(String, String)> = members::table
        .filter(members::id.eq_any(&rows))
        .select((members::id, members::member_id))
        .load(conn)?;
    found.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(found)
}

/// Whether a letter printed by `who` may replace a live link now: not an official's while the
/// vote is open under the two-person rule (that is a reissue, which needs a second admin); the
/// console's, outside the rule, always (as its `tokens reissue`).
fn may_replace(election: &Election, who: approval::Who<'_>) -> bool {
    let reissue = Action::Reissue {
        member: String::new(),
    };
    approval::check(election, &reissue, who).is_ok()
}

/// An official alone, as the letters page and the API print letters.
const AN_OFFICIAL: approval::Who<'static> = approval::Who::Official {
    by: "",
    approved_by: None,
};

/// What every letter of a deployment shares.
pub struct Letterhead {
    /// The union's name (`union_name`, else `mail_from`'s).
    pub union: String,
    /// Where questions go when the definition names no contact (`mail_from`'s address).
    pub fallback_contact: String,
    /// The log key's fingerprint.
    pub fingerprint: String,
    /// The paper.
    pub paper: Paper,
}

impl Letterhead {
    /// The letterhead the settings and the log key give.
    pub fn of(settings: &crate::settings::Settings, signer: &LogKey) -> Self {
        Self {
            union: settings.union(),
            fallback_contact: settings.contact_fallback(),
            fingerprint: crate::log::note::fingerprint(&signer.public_key()),
            paper: settings.letter_paper,
        }
    }
}

/// Issues a token to every member who needs a letter (of `local` alone, when given) and has
/// neither a live nor a used token — and, when it may ([`may_replace`]), replaces the live link
/// of those whose email bounced after the mail server took it — and hands their letters, as
/// one PDF, to `write` before the tokens commit (if it fails, nothing is issued); returns how
/// many. The PDF is the only copy of those tokens.
pub fn issue_into(
    conn: &mut DbConnection,
    id: ElectionId,
    (signer, who): (&LogKey, approval::Who<'_>),
    (head, local): (&Letterhead, Option<&str>),
    write: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<usize> {
    crate::log::store::transaction(conn, |conn| {
        let election = crate::election::lock(conn, id)?;
        let among = who_needs_one(conn, id, local)?;
        let mut replaced = Vec::new();
        if may_replace(&election, who) {
            for (_, member) in bounced_holders(conn, id, &among)? {
                replaced.push(crate::token::store::reissue(
                    conn, id, &member, signer, who,
                )?);
            }
        }
        let n = replaced.len();
        let actor = who.actor().by;
        crate::token::store::issue_among(conn, id, (signer, actor), Some(&among), &mut |e, t| {
            let mut all = replaced.clone();
            all.extend_from_slice(t);
            if all.is_empty() {
                return Ok(());
            }
            all.sort_by(|a, b| (&a.local, &a.member_id).cmp(&(&b.local, &b.member_id)));
            write(&letters_pdf(e, &all, head)?)
        })
        .map(|issued| issued + n)
    })
}

/// What an admin asks a second admin to approve while the vote is open under the two-person
/// rule: letters replacing the links of the members whose email bounced after the mail server
/// took it and who still hold that link (the letters page counts them as held). Refused when
/// there is nobody, or when no approval is needed (the letters step replaces them itself).
pub fn bounced_request(conn: &mut DbConnection, id: ElectionId) -> Result<Action> {
    let election = crate::election::find(conn, id)?;
    if may_replace(&election, AN_OFFICIAL) {
        return Err(Error::conflict(
            ErrorCode::ApprovalNeeded,
            "no second admin is needed now: the letters step replaces these links itself",
        ));
    }
    let among = who_needs_one(conn, id, None)?;
    let mut members: Vec<String> = bounced_holders(conn, id, &among)?
        .into_iter()
        .map(|(_, member)| member)
        .collect();
    if members.is_empty() {
        return Err(Error::conflict(
            ErrorCode::NoBouncedLinks,
            "no member holds a link from an email that bounced after it was sent",
        ));
    }
    members.sort();
    Ok(Action::BouncedLetters { members })
}

/// Carries out approved [`Action::BouncedLetters`]: replaces the link of each of `members`
/// who still holds the one their bounced email carried (one who has voted since, or was
/// reissued a token, is left alone) — each a `token_reissue` with both officials' names — and
/// answers how many and their letters (one PDF, empty when none is left).
pub fn replace_bounced(
    conn: &mut DbConnection,
    id: ElectionId,
    members: &[String],
    (signer, who): (&LogKey, approval::Who<'_>),
    head: &Letterhead,
) -> Result<(usize, Vec<u8>)> {
    crate::log::store::transaction(conn, |conn| {
        let election = crate::election::lock(conn, id)?;
        let approved: HashSet<&str> = members.iter().map(String::as_str).collect();
        let among = who_needs_one(conn, id, None)?;
        let mut replaced = Vec::new();
        for (_, member) in bounced_holders(conn, id, &among)? {
            if approved.contains(member.as_str()) {
                replaced.push(crate::token::store::reissue(
                    conn, id, &member, signer, who,
                )?);
            }
        }
        if replaced.is_empty() {
            return Ok((0, Vec::new()));
        }
        replaced.sort_by(|a, b| (&a.local, &a.member_id).cmp(&(&b.local, &b.member_id)));
        Ok((replaced.len(), letters_pdf(&election, &replaced, head)?))
    })
}

/// As [`issue_into`] by official `actor`, answering the PDF (empty when nobody needed a
/// letter).
pub fn issue(
    conn: &mut DbConnection,
    id: ElectionId,
    (signer, actor): (&LogKey, &str),
    head: &Letterhead,
    local: Option<&str>,
) -> Result<(usize, Vec<u8>)> {
    let mut pdf = Vec::new();
    let who = approval::Who::from(actor);
    let n = issue_into(conn, id, (signer, who), (head, local), &mut |bytes| {
        pdf = bytes.to_vec();
        Ok(())
    })?;
    Ok((n, pdf))
}

/// Letters waiting in one local (or in all): for the confirmation step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Members who need a letter: no token yet, or one whose email bounced after the mail
    /// server took it (and a letter may replace it now).
    pub letters: usize,
    /// Those of them with no postal address on the roster.
    pub without_address: usize,
    /// Those of them whose letter replaces a link from an email that bounced.
    pub replacing: usize,
    /// Members whose email bounced after it was sent, holding its link, whom a letter may not
    /// reach now: the vote is open under the two-person rule (a reissue each, approved).
    pub held: usize,
}

/// What the confirmation step shows: the letters waiting in all locals, and in each local
/// that has any (in the roster's local codes' order).
pub fn pending(
    conn: &mut DbConnection,
    id: ElectionId,
) -> Result<(Pending, Vec<(String, Pending)>)> {
    let election = crate::election::find(conn, id)?;
    let among = who_needs_one(conn, id, None)?;
    let holders: HashSet<String> = bounced_holders(conn, id, &among)?
        .into_iter()
        .map(|(row, _)| row)
        .collect();
    let replace = may_replace(&election, AN_OFFICIAL);
    let needy = crate::token::store::needy_members(conn, id)?;
    let bounced = crate::token::store::members_among(conn, id, &holders)?;
    let mut all = Pending::default();
    let mut by_local: std::collections::BTreeMap<String, Pending> = Default::default();
    let waiting = needy.iter().filter(|m| among.contains(&m.row_id));
    for (m, holds) in waiting
        .map(|m| (m, false))
        .chain(bounced.iter().map(|m| (m, true)))
    {
        for p in [&mut all, by_local.entry(m.local.clone()).or_default()] {
            if holds && !replace {
                p.held += 1;
                continue;
            }
            p.letters += 1;
            p.replacing += usize::from(holds);
            p.without_address += usize::from(m.address.is_none());
        }
    }
    by_local.retain(|_, p| p.letters > 0);
    Ok((all, by_local.into_iter().collect()))
}

/// The letters of `issued` as one PDF, one page each, in the order given.
pub fn letters_pdf(
    election: &Election,
    issued: &[IssuedToken],
    head: &Letterhead,
) -> Result<Vec<u8>> {
    let failed = |e: printpdf::Error| Error::Internal(format!("the letters PDF: {e}"));
    let (w, h) = head.paper.size();
    let title = format!("Letters: {}", election.definition.title);
    let (doc, first, layer) = PdfDocument::new(title, Mm(w), Mm(h), "letter");
    let fonts = Fonts {
        text: Font::embed(&doc, pdf::REGULAR)?,
        code: doc
            .add_builtin_font(printpdf::BuiltinFont::Courier)
            .map_err(failed)?,
    };
    let pages = issued.len();
    for (i, t) in issued.iter().enumerate() {
        let layer = if i == 0 {
            doc.get_page(first).get_layer(layer)
        } else {
            let (p, l) = doc.add_page(Mm(w), Mm(h), "letter");
            doc.get_page(p).get_layer(l)
        };
        let page = Page {
            layer,
            fonts: &fonts,
            paper: head.paper,
        };
        page.draw(election, t, head, (i + 1, pages))?;
    }
    finish(doc)
}

fn finish(doc: PdfDocumentReference) -> Result<Vec<u8>> {
    doc.save_to_bytes()
        .map_err(|e| Error::Internal(format!("the letters PDF: {e}")))
}

struct Fonts {
    /// DejaVu Sans, embedded: every word of the letter.
    text: Font<'static>,
    /// Courier (built in): the ballot code and link, ASCII only.
    code: IndirectFontRef,
}

/// One letter being drawn.
struct Page<'a> {
    layer: PdfLayerReference,
    fonts: &'a Fonts,
    paper: Paper,
}

impl Page<'_> {
    /// Text at `(x, top)`: `top` mm from the page's top edge to the baseline.
    fn text(&self, s: &str, size: f32, x: f32, top: f32) {
        let (_, h) = self.paper.size();
        self.layer
            .use_text(s, size, Mm(x), Mm(h - top), &self.fonts.text.font);
    }

    fn code(&self, s: &str, size: f32, x: f32, top: f32) {
        let (_, h) = self.paper.size();
        self.layer
            .use_text(s, size, Mm(x), Mm(h - top), &self.fonts.code);
    }

    fn draw(
        &self,
        election: &Election,
        t: &IssuedToken,
        head: &Letterhead,
        (page, pages): (usize, usize),
    ) -> Result<()> {
        let (w, h) = self.paper.size();
        let lang = t
            .language
            .as_deref()
            .and_then(Lang::parse)
            .unwrap_or_else(Lang::english);
        let words = lang.text();
        let name = if t.name.trim().is_empty() {
            t.member_id.as_str()
        } else {
            t.name.as_str()
        };
        // The letterhead: the union and the vote.
        let (title, _) = election.definition.texts(lang.code());
        self.text(&head.union, 13.0, MARGIN, 20.0);
        for (i, line) in self
            .fonts
            .text
            .wrap(title, 9.0, w - 2.0 * MARGIN)
            .iter()
            .enumerate()
        {
            self.text(line, 9.0, MARGIN, 26.0 + 4.0 * i as f32);
        }
        // The window: name and postal address.
        let (x, top) = self.paper.window();
        let mut block = vec![name];
        block.extend(t.address.as_deref().unwrap_or_default().split('\n'));
        for (i, line) in block.iter().filter(|l| !l.is_empty()).enumerate() {
            self.text(line, 10.5, x, top + 5.0 * i as f32);
        }
        // The body: the ballot notice's subject and the letter's words.
        let facts = texts::Facts {
            election,
            union: &head.union,
            fallback_contact: &head.fallback_contact,
            name,
            link: Some(&t.ballot_url),
            fingerprint: &head.fingerprint,
        };
        let notice = texts::compose(Kind::Ballot, lang, &facts);
        let body = texts::letter_body(lang, &facts);
        let body_top = top + 36.0;
        let room = h - body_top - (CODE_BOTTOM + QR_SIDE + 6.0);
        let width = w - 2.0 * MARGIN;
        let (size, lines) = [10.0f32, 9.0, 8.0, 7.0]
            .iter()
            .map(|s| (*s, self.fonts.text.wrap(&body, *s, width)))
            .find(|(s, lines)| (lines.len() as f32 + 2.0) * s * 0.45 <= room)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "member {}'s letter does not fit on one page (the question is too long)",
                    t.member_id
                ))
            })?;
        let step = size * 0.45;
        self.text(&notice.subject, size + 2.0, MARGIN, body_top);
        for (i, line) in lines.iter().enumerate() {
            self.text(line, size, MARGIN, body_top + step * (i as f32 + 2.0));
        }
        self.draw_code(t, words)?;
        let footer = texts::fill(
            words.letter_footer,
            &[
                ("member_id", &t.member_id),
                ("local", &t.local),
                ("page", &page.to_string()),
                ("pages", &pages.to_string()),
            ],
        );
        self.text(&footer, 7.0, MARGIN, h - 12.0);
        Ok(())
    }

    /// The ballot-code block at the foot: the QR code at the right; at the left the typed
    /// code and the link.
    fn draw_code(&self, t: &IssuedToken, words: &crate::web::i18n::Text) -> Result<()> {
        let (w, h) = self.paper.size();
        let qr_left = w - MARGIN - QR_SIDE;
        self.qr(&t.ballot_url, qr_left, CODE_BOTTOM)?;
        let top = h - CODE_BOTTOM - QR_SIDE + 8.0;
        self.text(words.letter_code_label, 10.0, MARGIN, top);
        self.code(t.token.expose(), 15.0, MARGIN, top + 8.0);
        self.text(words.letter_link_label, 8.0, MARGIN, top + 17.0);
        // Courier's characters are 0.6 em wide: as many as fit left of the code, per line.
        let size = 7.5;
        let per_line = ((qr_left - MARGIN - 4.0) / (0.6 * size * MM_PER_PT)) as usize;
        for (i, line) in link_lines(&t.ballot_url, per_line).iter().enumerate() {
            self.code(line, size, MARGIN, top + 22.0 + 3.8 * i as f32);
        }
        Ok(())
    }

    /// `data` as a QR code (error correction M, four modules of quiet zone), its lower left
    /// corner at `(x, y)` from the page's lower left, [`QR_SIDE`] wide: a one-bit image, one
    /// pixel per module, scaled up without smoothing (a few hundred bytes a page).
    fn qr(&self, data: &str, x: f32, y: f32) -> Result<()> {
        let code = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M)
            .map_err(|e| Error::Internal(format!("the ballot link's QR code: {e}")))?;
        let n = code.width();
        let side = n + 8;
        let colors = code.to_colors();
        let row_bytes = side.div_ceil(8);
        // One bit per pixel, each row padded to a byte; 1 is white, 0 black (DeviceGray).
        let mut bits = vec![0xffu8; row_bytes * side];
        for row in 0..n {
            for col in 0..n {
                if colors[row * n + col] == qrcode::Color::Dark {
                    let (r, c) = (row + 4, col + 4);
                    bits[r * row_bytes + c / 8] &= !(0x80 >> (c % 8));
                }
            }
        }
        let image = printpdf::ImageXObject {
            width: printpdf::Px(side),
            height: printpdf::Px(side),
            color_space: printpdf::ColorSpace::Greyscale,
            bits_per_component: printpdf::ColorBits::Bit1,
            interpolate: false,
            image_data: bits,
            image_filter: None,
            smask: None,
            clipping_bbox: None,
        };
        // At 72 dpi a pixel is a point; scaled to QR_SIDE.
        let scale = QR_SIDE / MM_PER_PT / side as f32;
        printpdf::Image::from(image).add_to_layer(
            self.layer.clone(),
            printpdf::ImageTransform {
                translate_x: Some(Mm(x)),
                translate_y: Some(Mm(y)),
                scale_x: Some(scale),
                scale_y: Some(scale),
                dpi: Some(72.0),
                ..Default::default()
            },
        );
        Ok(())
    }
}

/// `link` in lines of at most `width` characters, broken after a `?`, `=` or `/` where one
/// fits (the token stays whole on its line), else at the width.
fn link_lines(link: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut rest: Vec<char> = link.chars().collect();
    while rest.len() > width {
        let cut = rest[..width]
            .iter()
            .rposition(|c| matches!(c, '?' | '=' | '/'))
            .map_or(width, |i| i + 1);
        out.push(rest.drain(..cut).collect());
    }
    out.push(rest.into_iter().collect());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_link_breaks_before_its_token() {
        let link = "https://vote.local871.example/vote?token=SV-4KQR-2M85-CP3G-TYV3-6SBZ-YPY0-2RFT";
        assert_eq!(
            link_lines(link, 70),
            [
                "https://vote.local871.example/vote?token=",
                "SV-4KQR-2M85-CP3G-TYV3-6SBZ-YPY0-2RFT"
            ]
        );
        assert_eq!(link_lines(link, 100), [link]);
        assert_eq!(link_lines("abcdefghijkl", 8), ["abcdefgh", "ijkl"]);
    }
}
