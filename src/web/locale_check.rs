//! The rules a language file of `src/web/locales/` must meet, shared by build.rs (which refuses
//! to build otherwise) and the unit tests. Plain std so that build.rs can include it.

use std::collections::BTreeSet;

/// A language file's keys and values, as read.
pub type Table = Vec<(String, String)>;

/// The `{name}` placeholders in a sentence.
pub fn placeholders(s: &str) -> BTreeSet<&str> {
    s.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// Whether `code` names a language file: two lowercase letters (ISO 639-1).
pub fn code_ok(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase())
}

/// Checks `file`'s table against English: same keys, same placeholders, nothing empty.
pub fn check_against(file: &str, table: &Table, english: &Table) -> Result<(), String> {
    for (key, value) in english {
        let Some((_, theirs)) = table.iter().find(|(k, _)| k == key) else {
            return Err(format!("{file}: `{key}` is missing (en.toml has it)"));
        };
        if placeholders(value) != placeholders(theirs) {
            return Err(format!(
                "{file}: `{key}` must use the placeholders {:?}",
                placeholders(value)
            ));
        }
        if theirs.trim().is_empty() {
            return Err(format!("{file}: `{key}` is empty"));
        }
    }
    if let Some((key, _)) = table
        .iter()
        .find(|(k, _)| !english.iter().any(|(e, _)| e == k))
    {
        return Err(format!("{file}: `{key}` is not a key of en.toml"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> Table {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_language_file_must_match_english_key_for_key() {
        let en = table(&[("name", "English"), ("err_ended", "It closed on {date}.")]);
        let good = table(&[("err_ended", "Fermé le {date}."), ("name", "Français")]);
        assert_eq!(check_against("fr.toml", &good, &en), Ok(()));

        let missing = table(&[("name", "Français")]);
        let err = check_against("fr.toml", &missing, &en).unwrap_err();
        assert!(err.contains("`err_ended` is missing"), "{err}");

        let extra = table(&[
            ("name", "Français"),
            ("err_ended", "le {date}"),
            ("typo", "x"),
        ]);
        let err = check_against("fr.toml", &extra, &en).unwrap_err();
        assert!(err.contains("`typo` is not a key"), "{err}");

        let lost = table(&[("name", "Français"), ("err_ended", "Fermé le {jour}.")]);
        let err = check_against("fr.toml", &lost, &en).unwrap_err();
        assert!(
            err.contains("`err_ended` must use the placeholders"),
            "{err}"
        );

        let empty = table(&[("name", " "), ("err_ended", "le {date}")]);
        let err = check_against("fr.toml", &empty, &en).unwrap_err();
        assert!(err.contains("`name` is empty"), "{err}");
    }

    #[test]
    fn language_files_are_named_by_two_letter_codes() {
        assert!(code_ok("es") && code_ok("fr"));
        assert!(!code_ok("EN") && !code_ok("spa") && !code_ok("e") && !code_ok("es-MX"));
    }
}
