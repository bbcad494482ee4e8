//! What the server's PDFs (the letters by post, the certificate) share: DejaVu Sans, embedded so
//! that any Latin, Greek or Cyrillic name prints (a glyph the font lacks prints as an empty box;
//! the text layer keeps the character), and text measured with the font's own widths for
//! wrapping. Its licence is `fonts/LICENSE`.

use printpdf::{IndirectFontRef, PdfDocumentReference};

use crate::error::{Error, Result};

/// DejaVu Sans.
pub const REGULAR: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold.
pub const BOLD: &[u8] = include_bytes!("fonts/DejaVuSans-Bold.ttf");
/// Millimetres per typographic point.
pub const MM_PER_PT: f32 = 25.4 / 72.0;

/// A font embedded in a document, with its metrics.
pub struct Font<'a> {
    /// The font as the document refers to it.
    pub font: IndirectFontRef,
    face: ttf_parser::Face<'a>,
}

impl Font<'static> {
    /// Embeds `bytes` (one of [`REGULAR`], [`BOLD`]) in `doc`.
    pub fn embed(doc: &PdfDocumentReference, bytes: &'static [u8]) -> Result<Self> {
        let face = ttf_parser::Face::parse(bytes, 0)
            .map_err(|e| Error::Internal(format!("the PDF font: {e}")))?;
        let font = doc
            .add_external_font(bytes)
            .map_err(|e| Error::Internal(format!("the PDF font: {e}")))?;
        Ok(Self { font, face })
    }
}

impl Font<'_> {
    /// Whether the font draws every character of `s`.
    pub fn covers(&self, s: &str) -> bool {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .all(|c| self.face.glyph_index(c).is_some())
    }

    /// The width of `s` at `size` points (mm).
    pub fn width(&self, s: &str, size: f32) -> f32 {
        let per_em = f32::from(self.face.units_per_em());
        let units: f32 = s
            .chars()
            .map(|c| {
                self.face
                    .glyph_index(c)
                    .and_then(|g| self.face.glyph_hor_advance(g))
                    .map_or(per_em / 2.0, f32::from)
            })
            .sum();
        units / per_em * size * MM_PER_PT
    }

    /// `text`'s paragraphs (split at `\n`) wrapped to `width` mm at `size` points; a word
    /// wider than the line is broken where it no longer fits.
    pub fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let space = self.width(" ", size);
        let mut out = Vec::new();
        for paragraph in text.split('\n') {
            let (mut line, mut used) = (String::new(), 0.0);
            for word in paragraph.split(' ') {
                let w = self.width(word, size);
                let gap = if line.is_empty() { 0.0 } else { space };
                if used + gap + w <= width {
                    if !line.is_empty() {
                        line.push(' ');
                    }
                    line.push_str(word);
                    used += gap + w;
                    continue;
                }
                if !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                    used = 0.0;
                }
                for c in word.chars() {
                    let cw = self.width(c.encode_utf8(&mut [0; 4]), size);
                    if used + cw > width && !line.is_empty() {
                        out.push(std::mem::take(&mut line));
                        used = 0.0;
                    }
                    line.push(c);
                    used += cw;
                }
            }
            out.push(line);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use printpdf::{Mm, PdfDocument};

    #[test]
    fn wrapped_text_never_runs_past_its_width() {
        let (doc, _, _) = PdfDocument::new("t", Mm(10.0), Mm(10.0), "l");
        let font = Font::embed(&doc, REGULAR).unwrap();
        let text = "Zoë Ødegård-Łukasiewicz Дмитрий is holding a vote, and you may take part: \
                    https://vote.local871.example/elections/0192c7a0-5b1e-4c3d-9e8f-0a1b2c3d4e5f/audit\n\nΩ";
        let lines = font.wrap(text, 10.0, 60.0);
        assert!(lines.len() > 3, "{lines:?}");
        assert!(
            lines.iter().all(|l| font.width(l, 10.0) <= 60.0),
            "{lines:?}"
        );
        assert_eq!(
            lines.concat().replace(' ', ""),
            text.replace([' ', '\n'], "")
        );
        assert_eq!(
            lines[lines.len() - 2],
            "",
            "the blank line between paragraphs stays"
        );
    }

    #[test]
    fn both_fonts_print_names_in_latin_greek_and_cyrillic() {
        let (doc, _, _) = PdfDocument::new("t", Mm(10.0), Mm(10.0), "l");
        for bytes in [REGULAR, BOLD] {
            let font = Font::embed(&doc, bytes).unwrap();
            for name in [
                "Zoë Ødegård-Łukasiewicz",
                "Nguyễn Thị Minh Khai",
                "Şükrü Çağlar",
                "Дмитрий Шостакович",
                "Γιώργος Σεφέρης",
                "José Peña Ñúñez",
            ] {
                assert!(font.covers(name), "{name}");
            }
        }
    }
}
