//! Who sealed the log's ballots, and what their members checked (format v7): every version of
//! the sealing code ballot pages ran is named in the log before it seals anything (the `open`
//! entry, then a `sealing_code` entry for each new one), every ballot says who sealed it, and
//! every challenge — a sealed ballot its member checked instead of casting — is re-sealed from
//! its randomness and must make the tracker its member was shown.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{Failure, fail};
use crate::ElectionId;
use crate::crypto::PublicKey;
use crate::crypto::ballot::{ChallengeError, Context, resealed_tracker};
use crate::definition::Definition;
use crate::entry::{self, SealedBy};

/// How the log's ballots were sealed, and its challenges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sealing {
    /// Each sealing code the log names, in the order it names them, with what it sealed.
    pub codes: Vec<CodeUse>,
    /// Ballots sealed on members' devices by software that named no code (API clients).
    pub unnamed: Uses,
    /// Ballots the server sealed from a plain choice (pages without JavaScript, API clients
    /// that sent a choice).
    pub server: u64,
    /// Every challenge, in log order, each re-sealed from its randomness.
    pub challenges: Vec<Challenged>,
}

/// Ballots cast and checked with one sealing code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uses {
    /// Ballots cast.
    pub ballots: u64,
    /// Ballots checked instead (challenges).
    pub challenges: u64,
}

/// One version of the sealing code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeUse {
    /// Its SHA-256, 64 lowercase hex digits.
    pub code: String,
    /// When the log named it (the `open` or `sealing_code` entry's time).
    pub from: DateTime<Utc>,
    /// What it sealed.
    pub uses: Uses,
}

/// A challenge that holds: the ballot with `tracker` held `choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenged {
    /// Its entry's index in the log.
    pub index: usize,
    /// The tracker its member was shown.
    pub tracker: String,
    /// The member's local.
    pub local: String,
    /// The choice it held, as the definition names it.
    pub choice: String,
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Sealing {
    /// An `open` or `sealing_code` entry: a code not named before.
    pub(super) fn name(&mut self, opening: &entry::Opening) -> Result<(), Failure> {
        let code = &opening.sealing_code;
        if !is_hex64(code) {
            return fail("`sealing_code` is not 64 lowercase hex digits");
        }
        if self.codes.iter().any(|c| c.code == *code) {
            return fail(format!(
                "sealing code {code} is named twice: a `sealing_code` entry names a version \
                 the log has not named before"
            ));
        }
        if let Some(last) = self.codes.last()
            && opening.at < last.from
        {
            return fail(format!(
                "sealing code {code} is named at {}, before the previous one ({})",
                crate::definition::format_time(&opening.at),
                crate::definition::format_time(&last.from)
            ));
        }
        self.codes.push(CodeUse {
            code: code.clone(),
            from: opening.at,
            uses: Uses::default(),
        });
        Ok(())
    }

    /// What a ballot's or a challenge's `sealing_code` counts against: a code named before,
    /// or none.
    fn uses(&mut self, code: Option<&str>) -> Result<&mut Uses, Failure> {
        let Some(code) = code else {
            return Ok(&mut self.unnamed);
        };
        match self.codes.iter_mut().find(|c| c.code == code) {
            Some(c) => Ok(&mut c.uses),
            None => fail(format!(
                "sealing code `{}` is not named by an `open` or `sealing_code` entry before it",
                crate::text::shown(code)
            )),
        }
    }

    /// A ballot: who sealed it, and with which code.
    pub(super) fn ballot(&mut self, ballot: &entry::Ballot) -> Result<(), Failure> {
        match (ballot.sealed_by, ballot.sealing_code.as_deref()) {
            (SealedBy::Server, None) => {
                self.server += 1;
                Ok(())
            }
            (SealedBy::Server, Some(_)) => {
                fail("a ballot the server sealed names a sealing code (it must be null)")
            }
            (SealedBy::Member, code) => {
                self.uses(code)?.ballots += 1;
                Ok(())
            }
        }
    }

    /// A challenge: its code, its local and choice, and its randomness re-sealed to its
    /// tracker. Returns the tracker (which no ballot or other challenge may repeat).
    pub(super) fn challenge(
        &mut self,
        index: usize,
        (definition, election, key): (&Definition, &ElectionId, &PublicKey),
        challenge: &entry::Challenge,
    ) -> Result<[u8; 32], Failure> {
        super::known_local(definition, &challenge.local)?;
        if !is_hex64(&challenge.tracker) {
            return fail("the challenge's `tracker` is not 64 lowercase hex digits");
        }
        let Some(choice) = definition
            .choices
            .iter()
            .position(|c| c.as_str() == challenge.choice)
        else {
            return fail(format!(
                "the challenge's choice `{}` is not one of the election's",
                crate::text::shown(&challenge.choice)
            ));
        };
        let Some(randomness) = challenge.randomness_bytes() else {
            return fail(
                "the challenge's `randomness` is not base64url (no padding) of 32 bytes each",
            );
        };
        let context = Context {
            election,
            local: &challenge.local,
        };
        let options = definition.choices.len();
        let remade =
            resealed_tracker(key, context, options, choice, &randomness).map_err(|e| match e {
                ChallengeError::Malformed(why) => Failure(format!("the challenge {why}")),
                _ => Failure(e.to_string()),
            })?;
        if hex::encode(remade) != challenge.tracker {
            return fail(format!(
                "the challenge does not hold: its randomness seals `{}` for local {} to the \
                 tracker {}, not to the tracker {} its member was shown — the sealing code \
                 did not seal what it said",
                challenge.choice,
                challenge.local,
                hex::encode(remade),
                challenge.tracker
            ));
        }
        self.uses(challenge.sealing_code.as_deref())?.challenges += 1;
        self.challenges.push(Challenged {
            index,
            tracker: challenge.tracker.clone(),
            local: challenge.local.clone(),
            choice: challenge.choice.clone(),
        });
        Ok(remade)
    }
}

impl fmt::Display for Sealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |f: &mut fmt::Formatter<'_>, who: &str, u: &Uses| {
            writeln!(
                f,
                "sealed    {:>7} ballot(s), {} checked first (every one held its stated choice): {who}",
                u.ballots, u.challenges
            )
        };
        for c in &self.codes {
            let who = format!(
                "members' pages running sealing code {} (named from {})",
                c.code,
                crate::definition::format_time(&c.from)
            );
            line(f, &who, &c.uses)?;
        }
        if self.unnamed != Uses::default() {
            line(
                f,
                "members' own software, naming no sealing code",
                &self.unnamed,
            )?;
        }
        writeln!(
            f,
            "sealed    {:>7} ballot(s) by the server from a plain choice (pages without JavaScript, API clients sending a choice)",
            self.server
        )
    }
}
