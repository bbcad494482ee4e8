//! Roster CSV parsing: pure, all or nothing, every bad line named.

use std::collections::{HashMap, HashSet};
use std::fmt;

use email_address::EmailAddress;

/// The columns a roster file must have (in any order, header required).
pub const COLUMNS: [&str; 4] = ["member_id", "local", "name", "email"];
/// Columns a roster file may have besides: `language`, the member's language for what the
/// service sends them (a two-letter code of a language it speaks; empty for English), and
/// `address`, the postal address printed on a letter (its lines separated by line breaks in
/// the cell, as a spreadsheet writes them; empty when there is none).
pub const OPTIONAL: [&str; 2] = ["language", "address"];

/// Most lines of a postal address, and longest line.
const MAX_ADDRESS_LINES: usize = 6;
const MAX_ADDRESS_LINE: usize = 60;

/// Longest accepted member id, name and email.
const MAX_MEMBER_ID: usize = 128;
const MAX_NAME: usize = 200;
const MAX_EMAIL: usize = 254;
/// Lines listed in full before the rest are summarized.
const MAX_LISTED: usize = 200;

/// One member as read from the roster file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterRow {
    /// The union's own member id, unique in the election.
    pub member_id: String,
    /// The local's code, one of the election's.
    pub local: String,
    /// Name for the mailing (may be empty).
    pub name: String,
    /// Email for the mailing (may be empty).
    pub email: String,
    /// The member's language for notices and letters, when the file gives one.
    pub language: Option<String>,
    /// The member's postal address, its lines joined by `\n` (blank lines and spaces at
    /// either end dropped), when the file gives one.
    pub address: Option<String>,
}

/// One bad line of a roster file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineProblem {
    /// The 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

/// Why a roster file was refused. Nothing is imported when this is returned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// The file as a whole is unusable (no header, missing columns, not UTF-8...).
    #[error("the roster file is unusable: {0}")]
    File(String),
    /// One or more rows are bad; every one is listed.
    #[error("{}", describe(.0))]
    Lines(Vec<LineProblem>),
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

fn describe(problems: &[LineProblem]) -> String {
    let mut out = format!(
        "the roster was not imported: {} bad line(s)",
        problems.len()
    );
    for p in problems.iter().take(MAX_LISTED) {
        out.push_str(&format!("\n  {p}"));
    }
    if problems.len() > MAX_LISTED {
        out.push_str(&format!("\n  … and {} more", problems.len() - MAX_LISTED));
    }
    out
}

/// Parses a roster file against the election's local codes.
///
/// Accepts UTF-8 with or without a byte-order mark, LF or CRLF line ends, and quoted fields
/// with commas, quotes and line breaks. Any bad row rejects the whole file.
pub fn parse_roster(
    bytes: &[u8],
    local_codes: &HashSet<&str>,
) -> Result<Vec<RosterRow>, RosterError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let columns = Columns::read(&mut reader)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line_hint = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line_hint);
                problems.push(LineProblem {
                    line,
                    reason: csv_reason(&e),
                });
                // A UTF-8 error spoils one record; an I/O error cannot happen on a slice.
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line_hint);
        if record.len() == 1 && record[0].trim().is_empty() {
            continue; // a blank line
        }
        match columns.row(&record, local_codes, &mut first_seen, line) {
            Ok(row) => rows.push(row),
            Err(reason) => problems.push(LineProblem { line, reason }),
        }
    }
    if !problems.is_empty() {
        return Err(RosterError::Lines(problems));
    }
    if rows.is_empty() {
        return Err(RosterError::File(
            "the file has a header but no members".to_owned(),
        ));
    }
    Ok(rows)
}

/// Where each of [`COLUMNS`] stands in the file.
struct Columns {
    width: usize,
    member_id: usize,
    local: usize,
    name: usize,
    email: usize,
    language: Option<usize>,
    address: Option<usize>,
}

impl Columns {
    /// Reads line 1: exactly the four columns, in any order, any case.
    fn read(reader: &mut csv::Reader<&[u8]>) -> Result<Self, RosterError> {
        let header = reader
            .headers()
            .map_err(|e| RosterError::File(csv_reason(&e)))?;
        if header.is_empty() || (header.len() == 1 && header[0].trim().is_empty()) {
            return Err(RosterError::File(format!(
                "the file is empty; the first line must be the header {}",
                COLUMNS.join(",")
            )));
        }
        let names: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let mut index = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            if index.insert(name.as_str(), i).is_some() {
                return Err(RosterError::File(format!(
                    "line 1: column `{name}` appears twice in the header"
                )));
            }
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .filter(|c| !index.contains_key(**c))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(RosterError::File(format!(
                "line 1: the header lacks column(s) {}; it must name {}",
                missing.join(", "),
                COLUMNS.join(",")
            )));
        }
        let unknown: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|h| !COLUMNS.contains(h) && !OPTIONAL.contains(h))
            .collect();
        if !unknown.is_empty() {
            return Err(RosterError::File(format!(
                "line 1: unknown column(s) {}; the header must name {} (and may name {})",
                unknown.join(", "),
                COLUMNS.join(","),
                OPTIONAL.join(",")
            )));
        }
        Ok(Self {
            width: names.len(),
            member_id: index["member_id"],
            local: index["local"],
            name: index["name"],
            email: index["email"],
            language: index.get("language").copied(),
            address: index.get("address").copied(),
        })
    }

    /// One member's line, or every reason it is refused, joined.
    fn row(
        &self,
        record: &csv::StringRecord,
        local_codes: &HashSet<&str>,
        first_seen: &mut HashMap<String, u64>,
        line: u64,
    ) -> Result<RosterRow, String> {
        if record.len() != self.width {
            return Err(format!(
                "has {} field(s), the header has {}",
                record.len(),
                self.width
            ));
        }
        let row = RosterRow {
            member_id: record[self.member_id].trim().to_owned(),
            local: record[self.local].trim().to_owned(),
            name: record[self.name].trim().to_owned(),
            email: record[self.email].trim().to_owned(),
            language: self
                .language
                .map(|i| record[i].trim().to_ascii_lowercase())
                .filter(|l| !l.is_empty()),
            address: self
                .address
                .map(|i| address_lines(&record[i]))
                .filter(|a| !a.is_empty()),
        };
        let mut reasons = Vec::new();
        reasons.extend(member_id_problem(&row.member_id, first_seen, line));
        if row.local.is_empty() {
            reasons.push("local is empty".to_owned());
        } else if !local_codes.contains(row.local.as_str()) {
            reasons.push(format!(
                "local `{}` is not one of the election's locals",
                crate::text::shown(&row.local)
            ));
        }
        if row.name.chars().count() > MAX_NAME {
            reasons.push(format!("name is longer than {MAX_NAME} characters"));
        } else if let Some(why) = crate::text::unsafe_character(&row.name) {
            reasons.push(format!("name {why}"));
        }
        let email = &row.email;
        if !email.is_empty() && (email.len() > MAX_EMAIL || !EmailAddress::is_valid(email)) {
            reasons.push(format!(
                "email `{}` is not a valid address",
                crate::text::shown(email)
            ));
        }
        if let Some(lang) = &row.language
            && crate::web::i18n::Lang::parse(lang).is_none_or(|l| l.code() != lang)
        {
            reasons.push(format!(
                "language `{}` is not one the service writes in ({})",
                crate::text::shown(lang),
                crate::web::i18n::Lang::all()
                    .map(|l| l.code())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        reasons.extend(row.address.as_deref().and_then(address_problem));
        if reasons.is_empty() {
            Ok(row)
        } else {
            Err(reasons.join("; "))
        }
    }
}

/// An address cell's lines, trimmed, blank ones dropped, joined by `\n`.
fn address_lines(cell: &str) -> String {
    cell.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What is wrong with an address (its lines joined by `\n`), if anything.
fn address_problem(address: &str) -> Option<String> {
    let lines: Vec<&str> = address.split('\n').collect();
    if lines.len() > MAX_ADDRESS_LINES {
        return Some(format!(
            "address has {} lines; a letter's window takes at most {MAX_ADDRESS_LINES}",
            lines.len()
        ));
    }
    lines.iter().enumerate().find_map(|(i, line)| {
        let n = i + 1;
        if line.chars().count() > MAX_ADDRESS_LINE {
            Some(format!(
                "address line {n} is longer than {MAX_ADDRESS_LINE} characters"
            ))
        } else {
            crate::text::unsafe_character(line).map(|why| format!("address line {n} {why}"))
        }
    })
}

/// What is wrong with a member id, if anything; a good one is remembered for duplicates.
fn member_id_problem(
    member_id: &str,
    first_seen: &mut HashMap<String, u64>,
    line: u64,
) -> Option<String> {
    if member_id.is_empty() {
        Some("member_id is empty".to_owned())
    } else if member_id.chars().count() > MAX_MEMBER_ID {
        Some(format!(
            "member_id is longer than {MAX_MEMBER_ID} characters"
        ))
    } else if let Some(why) = crate::text::unsafe_character(member_id) {
        Some(format!("member_id {why}"))
    } else if let Some(first) = first_seen.get(member_id) {
        Some(format!(
            "member_id `{member_id}` is a duplicate of line {first}"
        ))
    } else {
        first_seen.insert(member_id.to_owned(), line);
        None
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8 text".to_owned(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} field(s), the header has {expected_len}"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn codes() -> HashSet<&'static str> {
        ["600", "700", "871"].into_iter().collect()
    }

    #[test]
    fn a_postal_address_keeps_its_lines_and_refuses_what_no_window_shows() {
        let file = "member_id,local,name,email,address\n\
                    M1,600,Ana,,\"  12 Elm St \r\n\r\nSpringfield, IL 62704\"\n\
                    M2,600,Ben,,\n";
        let rows = parse_roster(file.as_bytes(), &codes()).unwrap();
        assert_eq!(
            rows[0].address.as_deref(),
            Some("12 Elm St\nSpringfield, IL 62704")
        );
        assert_eq!(rows[1].address, None);
        let long = format!("M1,600,Ana,,{}", "x".repeat(61));
        let seven = "M2,600,Ben,,\"1\n2\n3\n4\n5\n6\n7\"";
        let tab = "M3,600,Cy,,\"12\tElm\"";
        let file = format!("member_id,local,name,email,address\n{long}\n{seven}\n{tab}\n");
        let Err(RosterError::Lines(problems)) = parse_roster(file.as_bytes(), &codes()) else {
            panic!("a bad address was accepted");
        };
        let reasons: Vec<&str> = problems.iter().map(|p| p.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "address line 1 is longer than 60 characters",
                "address has 7 lines; a letter's window takes at most 6",
                "address line 1 contains a tab (U+0009)",
            ]
        );
    }

    #[test]
    fn quoted_fields_bom_and_crlf_are_read() {
        let text = "\u{feff}member_id,local,name,email\r\nM1,600,\"Chen, Wei\",w@example.org\r\nM2,700,\"Sam \"\"Sparks\"\" Lee\",\r\n";
        let rows = parse_roster(text.as_bytes(), &codes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "Chen, Wei");
        assert_eq!(rows[1].name, "Sam \"Sparks\" Lee");
        assert_eq!(rows[1].email, "");
    }

    #[test]
    fn columns_may_come_in_any_order() {
        let text = "email,name,local,member_id\nx@example.org,X,871,M7\n";
        let rows = parse_roster(text.as_bytes(), &codes()).unwrap();
        assert_eq!(rows[0].member_id, "M7");
        assert_eq!(rows[0].local, "871");
    }

    #[test]
    fn every_bad_line_is_named_with_its_reason() {
        let text = "member_id,local,name,email\nM1,600,A,\nM1,600,B,\n,700,C,\nM3,999,D,bad@\nM4,600\nM5,700,E,e@example.org\n";
        let Err(RosterError::Lines(problems)) = parse_roster(text.as_bytes(), &codes()) else {
            panic!("expected line problems");
        };
        let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 4, 5, 6]);
        assert!(problems[0].reason.contains("duplicate of line 2"));
        assert!(problems[1].reason.contains("member_id is empty"));
        assert!(problems[2].reason.contains("`999`") && problems[2].reason.contains("email"));
        assert!(problems[3].reason.contains("2 field(s)"));
    }

    #[test]
    fn a_missing_header_or_column_is_refused() {
        assert!(matches!(
            parse_roster(b"", &codes()),
            Err(RosterError::File(_))
        ));
        let err = parse_roster(b"member_id,local,name\nM1,600,A\n", &codes()).unwrap_err();
        assert!(err.to_string().contains("email"), "{err}");
        let err = parse_roster(b"M1,600,A,a@example.org\n", &codes()).unwrap_err();
        assert!(matches!(err, RosterError::File(_)), "{err}");
        let err = parse_roster(b"member_id,local,name,email,phone\n", &codes()).unwrap_err();
        assert!(err.to_string().contains("phone"), "{err}");
    }

    #[test]
    fn invalid_utf8_names_its_line() {
        let mut bytes = b"member_id,local,name,email\nM1,600,A,\nM2,600,".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b",\n");
        let Err(RosterError::Lines(problems)) = parse_roster(&bytes, &codes()) else {
            panic!("expected line problems");
        };
        assert_eq!(problems[0].line, 3);
        assert!(problems[0].reason.contains("UTF-8"));
    }

    fn arb_row() -> impl Strategy<Value = (String, String, String)> {
        (
            prop::sample::select(vec!["600", "700", "871"]),
            "[\\PC&&[^\r\n]]{0,30}",
            prop::option::of("[a-z]{1,8}@[a-z]{1,8}\\.org"),
        )
            .prop_map(|(l, n, e)| {
                // Any printable text but the characters names may not hold (a separate test).
                let n: String = n
                    .chars()
                    .filter(|c| crate::text::unsafe_character(c.encode_utf8(&mut [0; 4])).is_none())
                    .collect();
                (l.to_owned(), n.trim().to_owned(), e.unwrap_or_default())
            })
    }

    proptest! {
        #[test]
        fn any_well_formed_roster_reads_back_exactly(
            rows in proptest::collection::vec(arb_row(), 1..40),
            bom in any::<bool>(),
            crlf in any::<bool>(),
        ) {
            let mut writer = csv::WriterBuilder::new()
                .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
                .from_writer(Vec::new());
            writer.write_record(COLUMNS).unwrap();
            for (i, (local, name, email)) in rows.iter().enumerate() {
                writer.write_record([format!("M{i}").as_str(), local, name, email]).unwrap();
            }
            let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
            bytes.extend(writer.into_inner().unwrap());
            let parsed = parse_roster(&bytes, &codes()).unwrap();
            prop_assert_eq!(parsed.len(), rows.len());
            for (i, (got, (local, name, email))) in parsed.iter().zip(&rows).enumerate() {
                prop_assert_eq!(&got.member_id, &format!("M{i}"));
                prop_assert_eq!(&got.local, local);
                prop_assert_eq!(&got.name, name);
                prop_assert_eq!(&got.email, email);
            }
        }

        #[test]
        fn one_bad_row_rejects_the_whole_file_and_is_named(
            rows in proptest::collection::vec(arb_row(), 1..40),
            at in any::<prop::sample::Index>(),
        ) {
            let bad = at.index(rows.len());
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(COLUMNS).unwrap();
            for (i, (local, name, email)) in rows.iter().enumerate() {
                let local = if i == bad { "nope" } else { local.as_str() };
                writer.write_record([format!("M{i}").as_str(), local, name, email]).unwrap();
            }
            let bytes = writer.into_inner().unwrap();
            match parse_roster(&bytes, &codes()) {
                Err(RosterError::Lines(problems)) => {
                    prop_assert_eq!(problems.len(), 1);
                    // Names may hold quoted line breaks, so count the lines the writer produced.
                    let mut reader = csv::Reader::from_reader(bytes.as_slice());
                    let line = reader.records().nth(bad).unwrap().unwrap().position().unwrap().line();
                    prop_assert_eq!(problems[0].line, line);
                }
                other => prop_assert!(false, "accepted: {:?}", other),
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_roster(&bytes, &codes());
        }
    }
}
