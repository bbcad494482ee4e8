//! Ballot tokens: 140 random bits a member can type, stored only as SHA-256.
//!
//! A [`PlainToken`] exists only while tokens are issued (it goes to the issuance CSV and nowhere
//! else) and while a member's request is parsed; the database only ever sees a [`HashedToken`].

use std::fmt;

use sha2::{Digest, Sha256};

/// Every token starts with this, so people and scanners recognise one.
pub const PREFIX: &str = "SV";
/// Crockford base32 characters in a token (28 × 5 = 140 random bits).
const BODY_LEN: usize = 28;
/// Characters per dash-separated group.
const GROUP: usize = 4;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A token in its canonical printed form, e.g. `SV-7K2M-9QXR-…`. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl Drop for PlainToken {
    /// A token is overwritten once it is no longer needed.
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// The SHA-256 of a token's canonical form: what the database stores and looks up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashedToken(pub [u8; 32]);

/// Why typed text is not a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this is not a ballot token: a token looks like SV-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX")]
pub struct MalformedToken;

impl PlainToken {
    /// A fresh token from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self::from_body(&random_body()?))
    }

    /// Parses what a member typed or pasted: case, dashes, spaces and the `SV` prefix are
    /// optional; Crockford's look-alikes (O→0, I/L→1) are accepted.
    pub fn parse(input: &str) -> Result<Self, MalformedToken> {
        let mut body = normalize(input).ok_or(MalformedToken)?;
        if body.len() == PREFIX.len() + BODY_LEN && body.starts_with(PREFIX) {
            body.drain(..PREFIX.len());
        }
        if body.len() != BODY_LEN || !body.bytes().all(|b| ALPHABET.contains(&b)) {
            zeroize::Zeroize::zeroize(&mut body);
            return Err(MalformedToken);
        }
        let token = Self::from_body(&body);
        zeroize::Zeroize::zeroize(&mut body);
        Ok(token)
    }

    fn from_body(body: &str) -> Self {
        Self(format!("{PREFIX}-{}", grouped(body)))
    }

    /// The canonical form, for the issuance CSV only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its SHA-256.
    pub fn hash(&self) -> HashedToken {
        HashedToken(Sha256::digest(self.0.as_bytes()).into())
    }
}

/// 28 Crockford base32 characters carrying 140 random bits from the OS CSPRNG.
fn random_body() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes)?;
    let encoded = base32::encode(base32::Alphabet::Crockford, &bytes);
    // 18 bytes encode to 29 characters; the first 28 carry 140 uniform random bits.
    Ok(encoded[..BODY_LEN].to_owned())
}

/// `ABCDEFGH…` as `ABCD-EFGH-…`.
fn grouped(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + body.len() / GROUP);
    for (i, c) in body.chars().enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// A ballot receipt: 140 random bits as seven groups of four Crockford base32 characters,
/// e.g. `7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE` (no `SV` prefix, so it is never mistaken for a
/// token). Read aloud, typed back, found in the log.
pub fn random_receipt() -> Result<String, getrandom::Error> {
    Ok(grouped(&random_body()?))
}

/// What a person typed, as Crockford base32 wants it: no spaces or dashes, upper case, the
/// look-alikes O→0 and I/L→1. `None` for absurdly long input.
fn normalize(input: &str) -> Option<String> {
    (input.len() <= 128).then(|| {
        input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            })
            .collect()
    })
}

/// A short code a person can read aloud: the first `chars` Crockford base32 characters of
/// `bytes` (5 bits each), in dash-separated groups of four, e.g. `7K2M-9QXR`.
pub fn short_code(bytes: &[u8], chars: usize) -> String {
    let encoded = base32::encode(base32::Alphabet::Crockford, bytes);
    grouped(&encoded[..chars.min(encoded.len())])
}

/// Normalizes a typed short code of `chars` characters (case, spaces, dashes, look-alikes) to
/// the form [`short_code`] prints, or `None`.
pub fn parse_short_code(input: &str, chars: usize) -> Option<String> {
    let body = normalize(input)?;
    (body.len() == chars && body.bytes().all(|b| ALPHABET.contains(&b))).then(|| grouped(&body))
}

/// Normalizes a typed receipt (case, spaces, look-alikes) to its canonical form, or `None`.
pub fn parse_receipt(input: &str) -> Option<String> {
    let body = normalize(input)?;
    (body.len() == BODY_LEN && body.bytes().all(|b| ALPHABET.contains(&b))).then(|| grouped(&body))
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_generated_token_has_the_documented_shape() {
        let t = PlainToken::generate().unwrap();
        let s = t.expose();
        assert_eq!(s.len(), 2 + 7 * 5, "{s}");
        assert!(s.starts_with("SV-"));
        assert!(s.split('-').skip(1).all(|g| g.len() == 4));
    }

    #[test]
    fn generated_tokens_differ() {
        let a = PlainToken::generate().unwrap();
        let b = PlainToken::generate().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = PlainToken::generate().unwrap();
        assert!(!format!("{t:?}").contains(&t.expose()[3..]));
    }

    #[test]
    fn sloppy_typing_still_finds_the_token() {
        let t = PlainToken::parse("SV-ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345").unwrap();
        let typed = "sv abcd efgh jkmn pqrs tvwx yzOl 2345";
        assert_eq!(PlainToken::parse(typed).unwrap(), t);
        assert_eq!(
            PlainToken::parse("ABCDEFGHJKMNPQRSTVWXYZ012345").unwrap(),
            t
        );
        assert_eq!(PlainToken::parse(typed).unwrap().hash(), t.hash());
    }

    #[test]
    fn receipts_are_grouped_and_read_back() {
        let r = random_receipt().unwrap();
        assert_eq!(r.len(), 34, "{r}");
        assert!(r.split('-').all(|g| g.len() == 4));
        assert_eq!(
            parse_receipt(&r.to_lowercase().replace('-', " ")),
            Some(r.clone())
        );
        assert_eq!(parse_receipt("nope"), None);
        assert_ne!(random_receipt().unwrap(), r);
    }

    #[test]
    fn wrong_lengths_and_letters_are_refused() {
        assert!(PlainToken::parse("").is_err());
        assert!(PlainToken::parse("SV-ABCD").is_err());
        // U is not in Crockford's alphabet.
        assert!(PlainToken::parse("SV-UBCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345").is_err());
        assert!(PlainToken::parse(&"A".repeat(500)).is_err());
    }

    proptest! {
        #[test]
        fn every_generated_token_parses_back_to_itself(seed in any::<[u8; 18]>()) {
            let encoded = base32::encode(base32::Alphabet::Crockford, &seed);
            let t = PlainToken::from_body(&encoded[..BODY_LEN]);
            prop_assert_eq!(PlainToken::parse(t.expose()).unwrap(), t.clone());
            prop_assert_eq!(PlainToken::parse(&t.expose().to_lowercase()).unwrap(), t);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in ".{0,80}") {
            let _ = PlainToken::parse(&s);
        }
    }
}
