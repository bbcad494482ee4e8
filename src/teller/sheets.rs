//! The tellers' invitations as printable sheets: one PDF, a page per teller, with everything
//! that teller needs — the election, the address of the vote, their number, their invitation
//! code unbroken, the log key's fingerprint, the teller program's SHA-256 and how to check it,
//! the exact commands, and what to compare with the other tellers. Made when the codes are
//! issued (the only time they exist in plain text) and downloaded once.

use printpdf::{BuiltinFont, IndirectFontRef, Mm, PdfDocument, PdfLayerReference};

use crate::election::Election;
use crate::error::{Error, Result};
use crate::settings::Paper;
use crate::web::pdf::{self, Font};

/// What every sheet of an election shares.
pub struct Sheet<'a> {
    /// The election.
    pub election: &'a Election,
    /// The log key's fingerprint.
    pub fingerprint: &'a str,
    /// The teller program's SHA-256, when the server knows it.
    pub program_sha256: Option<&'a str>,
    /// The paper.
    pub paper: Paper,
}

/// The left margin and the text's width on `paper` (mm).
fn measure(paper: Paper) -> (f32, f32, f32) {
    let (w, h) = paper.size();
    (20.0, w - 40.0, h)
}

/// One PDF of every teller's sheet, one page each, in teller order.
pub fn pdf(sheet: &Sheet<'_>, codes: &[(u32, String)]) -> Result<Vec<u8>> {
    let failed = |e: printpdf::Error| Error::Internal(format!("the invitations PDF: {e}"));
    let (w, h) = sheet.paper.size();
    let title = format!("Teller invitations: {}", sheet.election.definition.title);
    let (doc, first, layer) = PdfDocument::new(title, Mm(w), Mm(h), "invitation");
    let text = Font::embed(&doc, pdf::REGULAR)?;
    let bold = Font::embed(&doc, pdf::BOLD)?;
    let mono = doc.add_builtin_font(BuiltinFont::Courier).map_err(failed)?;
    for (i, (teller, code)) in codes.iter().enumerate() {
        let layer = if i == 0 {
            doc.get_page(first).get_layer(layer)
        } else {
            let (p, l) = doc.add_page(Mm(w), Mm(h), "invitation");
            doc.get_page(p).get_layer(l)
        };
        let mut page = Writer {
            layer,
            text: &text,
            bold: &bold,
            mono: &mono,
            paper: sheet.paper,
            top: 20.0,
        };
        page.draw(sheet, *teller, code);
    }
    doc.save_to_bytes().map_err(failed)
}

/// Lines set down a page, from the top.
struct Writer<'a> {
    layer: PdfLayerReference,
    text: &'a Font<'static>,
    bold: &'a Font<'static>,
    mono: &'a IndirectFontRef,
    paper: Paper,
    /// Where the next line's baseline goes, from the page's top (mm).
    top: f32,
}

impl Writer<'_> {
    /// Wrapped words in `font` at `size` points.
    fn words(&mut self, s: &str, size: f32, strong: bool) {
        let (x, width, h) = measure(self.paper);
        let font = if strong { self.bold } else { self.text };
        for line in font.wrap(s, size, width) {
            self.layer
                .use_text(line, size, Mm(x), Mm(h - self.top), &font.font);
            self.top += size * 0.45;
        }
    }

    /// Monospace lines (commands, codes): never wrapped, so they are typed as printed.
    fn code(&mut self, lines: &[String], size: f32) {
        let (x, _, h) = measure(self.paper);
        for line in lines {
            self.layer.use_text(
                line.as_str(),
                size,
                Mm(x + 4.0),
                Mm(h - self.top),
                self.mono,
            );
            self.top += size * 0.45;
        }
    }

    fn gap(&mut self, mm: f32) {
        self.top += mm;
    }

    fn draw(&mut self, sheet: &Sheet<'_>, teller: u32, code: &str) {
        let e = sheet.election;
        let d = &e.definition;
        let id = e.id;
        let server = e.public_url.to_string();
        let name = d.tellers.name(teller);
        let heading = if name == format!("teller {teller}") {
            format!("Teller {teller}: your invitation")
        } else {
            format!("Teller {teller}, {name}: your invitation")
        };
        self.words(&heading, 16.0, true);
        self.words(&d.title, 12.0, true);
        self.gap(2.0);
        self.words(
            "Keep this sheet private until the key ceremony is complete: its code lets whoever \
             holds it take part as you. Everything else on it may be shown to anyone.",
            9.5,
            false,
        );
        self.gap(3.0);
        let rows = [
            ("Election id", id.to_string()),
            ("Address of the vote", server.clone()),
            ("Teller number", teller.to_string()),
            (
                "Invitation code (save it as invitation.txt)",
                code.to_owned(),
            ),
            ("Log key fingerprint", sheet.fingerprint.to_owned()),
            (
                "The teller program's SHA-256",
                sheet.program_sha256.map_or_else(
                    || "(not installed beside the server: ask the officials)".to_owned(),
                    str::to_owned,
                ),
            ),
        ];
        for (i, (label, value)) in rows.into_iter().enumerate() {
            self.words(label, 9.5, true);
            // The code, read aloud or typed from paper, is set larger.
            self.code(&[value], if i == 3 { 13.0 } else { 10.0 });
            self.gap(1.5);
        }
        self.gap(2.0);
        self.steps(sheet, teller);
    }

    /// What the teller does: get and check the program, the ceremony, the decryption.
    fn steps(&mut self, sheet: &Sheet<'_>, teller: u32) {
        let id = sheet.election.id;
        let server = sheet.election.public_url.to_string();
        self.words("1. Get the program and check it", 11.0, true);
        self.words(
            "Download strikevote-teller for your computer from the project's releases (or take \
             the officials' copy). Before running it, `sha256sum strikevote-teller` (macOS: \
             `shasum -a 256 strikevote-teller`; Windows: `certutil -hashfile \
             strikevote-teller.exe SHA256`) must print the SHA-256 above, every character.",
            9.5,
            false,
        );
        self.gap(2.0);
        self.words("2. The key ceremony, before the vote opens", 11.0, true);
        self.words(
            "Put your passphrase (at least 12 characters) in a file only you can read, or leave \
             out --passphrase-file and type it when asked. Then run, exactly:",
            9.5,
            false,
        );
        let state = format!("teller-{teller}.state");
        self.code(
            &[
                "strikevote-teller setup \\".to_owned(),
                format!("    --election {id} \\"),
                format!("    --teller {teller} --state {state} \\"),
                "    --invitation-file invitation.txt \\".to_owned(),
                format!("    --server {server} \\"),
                format!("    --log-key {}", sheet.fingerprint),
            ],
            8.5,
        );
        self.gap(1.5);
        self.words(
            "It prints your fingerprint. Compare with the other tellers, by phone or in person \
             (their names and numbers come from the officials, not from the server): read them \
             yours, note theirs, and check that their sheets show the same log key fingerprint \
             and program SHA-256 as yours. Then run the command again, adding --confirm \
             N=FINGERPRINT for every other teller N, and again until it says the election key is \
             ready.",
            9.5,
            false,
        );
        self.gap(2.0);
        self.words("3. After the vote closes", 11.0, true);
        self.code(
            &[
                "strikevote-teller decrypt \\".to_owned(),
                format!("    --election {id} --state {state} \\"),
                format!("    --server {server}"),
            ],
            8.5,
        );
        self.gap(1.5);
        self.words(
            "It checks the whole log against what your state file pinned at the ceremony before \
             sending anything, and prints a log code: compare it with the other tellers before \
             the result is certified. If any step says the log was forked or a key substituted, \
             stop and tell the other tellers and the officials (docs/TELLERS.md, \"What can go \
             wrong\").",
            9.5,
            false,
        );
    }
}
