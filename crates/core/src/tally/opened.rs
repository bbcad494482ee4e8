//! Opening the count without opening a ballot. After close, each local's ballots add up,
//! option by option, to one ciphertext per option; locals with too few ballots to be opened
//! alone add up together ([`Units`]), so each *total* to open has one sum per option. Each
//! teller publishes a `tally_share` entry: its decryption share of
//! every sum with a proof tied to its key share from the ceremony. The first `threshold`
//! tellers (in log order) whose shares verify open the sums; the counts they give are the
//! `result` entry's. The service does this when the tellers decrypt; the verifier does it again.

use std::collections::BTreeMap;

use elastic_elgamal::VerifiableDecryption;
use rand::{CryptoRng, RngCore};

use super::{ChoiceCounts, LogCount, Results, Units};
use crate::crypto::ballot::{Context, unbind};
use crate::crypto::tally::{self as crypto_tally, Share, TallyError};
use crate::crypto::{ActiveTeller, Ciphertext, Group, KeySet};
use crate::definition::Definition;
use crate::entry::{LocalOutcome, ResultEntry, TallyShare};

/// One total's code and its sums, one ciphertext per choice.
pub type TotalSums = (String, Vec<Ciphertext>);

/// The totals to open ([`Units`]) and, for each in order, its sums under the election key:
/// each local's ballots add up under its context key, the sum is converted once
/// ([`crate::crypto::ballot::unbind`]), and a group adds up its locals' converted sums.
/// Refused if the election's ballots are too few to open any total.
pub fn sums(
    definition: &Definition,
    count: &LogCount,
) -> Result<(Units, Vec<TotalSums>), TallyError> {
    let units = Units::of(definition, &count.ballots)?;
    let options = definition.choices.len();
    let local_sum = |code: &str| -> Vec<Ciphertext> {
        let context = Context {
            election: &count.election,
            local: code,
        };
        match count.sums.get(code) {
            Some(sealed) => sealed.iter().map(|c| unbind(c, context)).collect(),
            None => vec![Ciphertext::zero(); options],
        }
    };
    let sums = units
        .totals()
        .into_iter()
        .map(|(code, locals, _)| {
            let mut sum = vec![Ciphertext::zero(); options];
            for local in locals {
                for (total, c) in sum.iter_mut().zip(local_sum(local)) {
                    *total += c;
                }
            }
            (code.to_owned(), sum)
        })
        .collect();
    Ok((units, sums))
}

fn flat(sums: &[TotalSums]) -> Vec<Ciphertext> {
    sums.iter().flat_map(|(_, s)| s.iter().copied()).collect()
}

/// A teller's shares of every total to open (what `teller decrypt` submits), keyed by the
/// total's code. Refused, before any share is computed, if a total would cover fewer ballots
/// than the definition's minimum ([`TallyError::TooFewBallots`]); `CouldNotShare` only if the
/// library could not read back a share it made.
pub fn decrypt<R: CryptoRng + RngCore>(
    definition: &Definition,
    count: &LogCount,
    teller: &ActiveTeller,
    rng: &mut R,
) -> Result<BTreeMap<String, Vec<Share>>, TallyError> {
    let (units, sums) = sums(definition, count)?;
    units.check()?;
    sums.into_iter()
        .map(|(code, sum)| {
            let shares =
                crypto_tally::decrypt(teller, &sum, rng).ok_or(TallyError::CouldNotShare)?;
            Ok((code, shares))
        })
        .collect()
}

/// Checks a `tally_share` entry against the teller's key share: one share per option for
/// exactly the totals to open, each proof valid for that total's sums. Returns the verified
/// decryptions in the sums' order.
pub fn check(
    definition: &Definition,
    keys: &KeySet,
    count: &LogCount,
    share: &TallyShare,
) -> Result<Vec<VerifiableDecryption<Group>>, TallyError> {
    let teller = share.teller as usize;
    if teller == 0 || teller > keys.participant_keys().len() {
        return Err(TallyError::NoSuchTeller(teller));
    }
    let (_, sums) = sums(definition, count)?;
    let mut shares = Vec::with_capacity(sums.len() * definition.choices.len());
    for (code, sum) in &sums {
        match share.shares.get(code) {
            Some(s) if s.len() == sum.len() => shares.extend(s.iter().copied()),
            _ => return Err(TallyError::WrongSums { teller }),
        }
    }
    if share.shares.len() != sums.len() {
        return Err(TallyError::WrongSums { teller });
    }
    crypto_tally::verify(keys, teller - 1, &flat(&sums), &shares)
}

/// The count the tellers' shares open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The tellers (1-based) whose shares were combined, in log order.
    pub tellers: Vec<u32>,
    /// How the totals were formed.
    pub units: Units,
    /// Counts per opened total (a local's code, or the group's).
    pub totals: BTreeMap<String, ChoiceCounts>,
}

impl Opened {
    /// The results these totals give under `definition`.
    pub fn results(&self, definition: &Definition, count: &LogCount) -> Results {
        super::tally(definition, &count.eligible, &self.units, &self.totals)
    }
}

/// Opens the sums with the first `threshold` distinct tellers of `shares` (in order); every
/// share used must verify. Fewer than `threshold`: [`TallyError::NeedMore`].
pub fn open(
    definition: &Definition,
    keys: &KeySet,
    count: &LogCount,
    shares: &[TallyShare],
) -> Result<Opened, TallyError> {
    let need = keys.params().threshold;
    let mut verified: Vec<(usize, Vec<VerifiableDecryption<Group>>)> = Vec::new();
    let mut tellers = Vec::new();
    for share in shares {
        if verified.len() == need || tellers.contains(&share.teller) {
            continue;
        }
        let decryptions = check(definition, keys, count, share)?;
        verified.push((share.teller as usize - 1, decryptions));
        tellers.push(share.teller);
    }
    let (units, sums) = sums(definition, count)?;
    let max = units.totals().iter().map(|t| t.2).max().unwrap_or(0);
    let opened = crypto_tally::combine(keys, &flat(&sums), &verified, max)?;
    let options = definition.choices.len();
    let totals = sums
        .iter()
        .zip(opened.chunks(options.max(1)))
        .map(|((code, _), n)| {
            (
                code.clone(),
                ChoiceCounts::of_options(&definition.choices, n),
            )
        })
        .collect();
    Ok(Opened {
        tellers,
        units,
        totals,
    })
}

/// The `result` entry's body: [`Results::entry_body`], then `tellers` (whose shares opened
/// the count) and `sums` (each opened total's sums, as the log's ciphertexts are written).
pub fn result_body(
    results: &Results,
    opened: &Opened,
    definition: &Definition,
    count: &LogCount,
) -> Result<ResultEntry, TallyError> {
    let sums = sums(definition, count)?.1.into_iter().collect();
    Ok(results.entry_body(opened.tellers.clone(), sums))
}

/// What a `result` entry states, enough to count it again: per local `eligible` and the
/// ballots cast, and the choice counts of each opened total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stated {
    /// Members eligible per local.
    pub eligible: BTreeMap<String, u64>,
    /// Ballots cast per local.
    pub cast: BTreeMap<String, u64>,
    /// Choice counts per opened total (a local's code, or the group's).
    pub totals: BTreeMap<String, ChoiceCounts>,
}

impl Stated {
    /// The results the entry states, counted again under `definition` (`None` if its ballots
    /// could not have been opened).
    pub fn results(&self, definition: &Definition) -> Option<Results> {
        let units = Units::of(definition, &self.cast).ok()?;
        Some(super::tally(
            definition,
            &self.eligible,
            &units,
            &self.totals,
        ))
    }
}

/// What a `result` entry states (`None` if a local is counted in a group the entry does not
/// open).
pub fn stated_counts(body: &ResultEntry) -> Option<Stated> {
    let mut stated = Stated {
        eligible: BTreeMap::new(),
        cast: BTreeMap::new(),
        totals: BTreeMap::new(),
    };
    for (code, local) in &body.locals {
        let (eligible, cast) = match local {
            LocalOutcome::Opened(l) => {
                let c = ChoiceCounts {
                    yes: l.yes,
                    no: l.no,
                    abstain: l.abstain,
                };
                stated.totals.insert(code.clone(), c);
                (l.eligible, c.cast())
            }
            LocalOutcome::Grouped(l) => {
                if body.group.as_ref().map(|g| &g.code) != Some(&l.group) {
                    return None;
                }
                (l.eligible, l.cast)
            }
        };
        stated.eligible.insert(code.clone(), eligible);
        stated.cast.insert(code.clone(), cast);
    }
    if let Some(g) = &body.group {
        let c = ChoiceCounts {
            yes: g.yes,
            no: g.no,
            abstain: g.abstain,
        };
        stated.totals.insert(g.code.clone(), c);
    }
    Some(stated)
}
