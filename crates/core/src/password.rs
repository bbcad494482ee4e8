//! The rule every secret a person chooses is held to — an official's password, a teller's
//! state-file passphrase: at least 12 characters, and not one of the passwords attackers try
//! first (`common_passwords.txt`), ignoring case and spaces, nor one character repeated.

/// The fewest characters.
pub const MIN_CHARS: usize = 12;

/// Passwords attackers try first.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Whether `password`, ignoring case and spaces, is a common one, or one character repeated.
pub fn is_common(password: &str) -> bool {
    let folded: String = password
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    let mut chars = folded.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return true;
    }
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l.replace(' ', "").to_lowercase() == folded)
}
