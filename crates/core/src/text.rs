//! Text that crosses a trust boundary: what officials type or upload (checked for characters
//! that would rewrite a terminal or reorder what people read) and what strikevote exports to
//! spreadsheets (neutralised so a cell is never run as a formula); and sentence templates with
//! `{placeholders}` filled in.

use std::borrow::Cow;

/// Why a piece of text was refused, naming the character in words.
pub fn unsafe_character(text: &str) -> Option<String> {
    text.chars().find_map(|c| {
        let what = match c {
            '\r' | '\n' | '\u{2028}' | '\u{2029}' => "a line break",
            '\t' => "a tab",
            '\u{1b}' => "an escape character (terminal control sequence)",
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' => {
                "a bidirectional control character (it can make text read differently from what it is)"
            }
            '\u{200b}'..='\u{200d}'
            | '\u{2060}'..='\u{2064}'
            | '\u{feff}'
            | '\u{00ad}'
            | '\u{034f}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{180e}'
            | '\u{3164}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}' => "an invisible character",
            '\u{ff1d}' => "a full-width equals sign (spreadsheets may read it as `=`)",
            c if c.is_control() => "a control character",
            _ => return None,
        };
        Some(format!("contains {what} (U+{:04X})", u32::from(c)))
    })
}

/// `text` safe to echo in a message: every character [`unsafe_character`] would name is
/// shown as an escape (`\u{202e}`), the rest as typed.
pub fn shown(text: &str) -> String {
    text.chars()
        .map(|c| {
            if unsafe_character(c.encode_utf8(&mut [0; 4])).is_some() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `template` with each `{key}` of `values` replaced, in one pass: what is put in is never
/// read again as template. A `{` that opens no known key stays as it is.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| {
            values
                .iter()
                .find(|(k, _)| *k == &after[..close])
                .map(|(_, v)| (close, v))
        }) {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A cell as written to an exported CSV: one that a spreadsheet would read as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP
/// recommends; everything else is unchanged.
pub fn spreadsheet_cell(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠') => {
            Cow::Owned(format!("'{cell}"))
        }
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for (cell, expected) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("+1+1", "'+1+1"),
            ("-A1", "'-A1"),
            ("Maria Lopez", "Maria Lopez"),
            ("", ""),
            ("a=b", "a=b"),
            ("＝1+1", "'＝1+1"),
        ] {
            assert_eq!(spreadsheet_cell(cell), expected);
        }
    }

    #[test]
    fn control_bidi_and_escape_characters_are_named() {
        assert!(unsafe_character("Local 600").is_none());
        assert!(unsafe_character("Mª José Núñez 🛠").is_none());
        for bad in [
            "a\nb",
            "x\r",
            "\u{1b}[31mred",
            "\u{1b}]0;title\u{7}",
            "abc\u{202e}fed",
            "\u{0}",
            "line\u{2028}separator",
            "para\u{2029}graph",
            "tag\u{e0041}characters",
            "hangul\u{3164}filler",
            "soft\u{ad}hyphen",
            "anno\u{fff9}tation",
            "look\u{ff1d}alike",
        ] {
            assert!(unsafe_character(bad).is_some(), "{bad:?}");
        }
        assert!(
            unsafe_character("a\u{202e}b")
                .unwrap()
                .contains("bidirectional")
        );
    }
}
