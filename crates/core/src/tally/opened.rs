//! Opening the count without opening a ballot. After close, each local's ballots add up,
//! option by option, to one ciphertext per option (the *sums*, in the definition's order of
//! locals and of choices). Each teller publishes a `tally_share` entry: its decryption share of
//! every sum with a proof tied to its key share from the ceremony. The first `threshold`
//! tellers (in log order) whose shares verify open the sums; the counts they give are the
//! `result` entry's. The service does this when the tellers decrypt; the verifier does it again.

use std::collections::BTreeMap;

use elastic_elgamal::VerifiableDecryption;
use rand::{CryptoRng, RngCore};
use serde_json::{Map, Value};

use super::{ChoiceCounts, LogCount, Results};
use crate::crypto::ballot::{Context, unbind};
use crate::crypto::tally::{self as crypto_tally, Share, TallyError};
use crate::crypto::{ActiveTeller, Ciphertext, Group, KeySet};
use crate::definition::Definition;
use crate::entry::TallyShare;

/// Every local's sums under the election key, in the definition's order (zeros for a local
/// without ballots): each local's ballots add up under its context key, and the sum is
/// converted once ([`crate::crypto::ballot::unbind`]).
pub fn sums(definition: &Definition, count: &LogCount) -> Vec<(String, Vec<Ciphertext>)> {
    let options = definition.choices.len();
    definition
        .locals
        .iter()
        .map(|local| {
            let code = local.code.as_str();
            let context = Context {
                election: &count.election,
                local: code,
            };
            let sum = match count.sums.get(code) {
                Some(sealed) => sealed.iter().map(|c| unbind(c, context)).collect(),
                None => vec![Ciphertext::zero(); options],
            };
            (code.to_owned(), sum)
        })
        .collect()
}

fn flat(sums: &[(String, Vec<Ciphertext>)]) -> Vec<Ciphertext> {
    sums.iter().flat_map(|(_, s)| s.iter().copied()).collect()
}

/// A teller's shares of every sum (what `teller decrypt` submits); `None` only if the library
/// could not read back a share it made.
pub fn decrypt<R: CryptoRng + RngCore>(
    definition: &Definition,
    count: &LogCount,
    teller: &ActiveTeller,
    rng: &mut R,
) -> Option<BTreeMap<String, Vec<Share>>> {
    sums(definition, count)
        .into_iter()
        .map(|(code, sum)| Some((code, crypto_tally::decrypt(teller, &sum, rng)?)))
        .collect()
}

/// Checks a `tally_share` entry against the teller's key share: one share per option for
/// exactly the definition's locals, each proof valid for that local's sum. Returns the
/// verified decryptions in the sums' order.
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
    let sums = sums(definition, count);
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
    /// Counts per local code.
    pub counts: BTreeMap<String, ChoiceCounts>,
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
    let sums = sums(definition, count);
    let max = count.ballots.values().copied().max().unwrap_or(0);
    let opened = crypto_tally::combine(keys, &flat(&sums), &verified, max)?;
    let options = definition.choices.len();
    let counts = sums
        .iter()
        .zip(opened.chunks(options.max(1)))
        .map(|((code, _), n)| {
            (
                code.clone(),
                ChoiceCounts::of_options(&definition.choices, n),
            )
        })
        .collect();
    Ok(Opened { tellers, counts })
}

/// The `result` entry's body: [`Results::entry_body`], then `tellers` (whose shares opened
/// the count) and `sums` (each local's sums, as the log's ciphertexts are written).
pub fn result_body(
    results: &Results,
    opened: &Opened,
    definition: &Definition,
    count: &LogCount,
) -> Map<String, Value> {
    let mut body = match results.entry_body() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    body.insert("tellers".into(), Value::from(opened.tellers.clone()));
    let sums: Map<String, Value> = sums(definition, count)
        .into_iter()
        .map(|(code, sum)| (code, serde_json::to_value(sum).unwrap_or_default()))
        .collect();
    body.insert("sums".into(), Value::Object(sums));
    body
}

/// The counts a `result` entry states: per local, `eligible` and the choice counts (`None` if
/// the entry does not have them in that form).
pub fn stated_counts(
    body: &Map<String, Value>,
) -> Option<(BTreeMap<String, u64>, BTreeMap<String, ChoiceCounts>)> {
    let mut eligible = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for (code, local) in body.get("locals")?.as_object()? {
        let n = |k: &str| local.get(k).and_then(Value::as_u64);
        eligible.insert(code.clone(), n("eligible")?);
        let c = ChoiceCounts {
            yes: n("yes")?,
            no: n("no")?,
            abstain: n("abstain")?,
        };
        counts.insert(code.clone(), c);
    }
    Some((eligible, counts))
}
