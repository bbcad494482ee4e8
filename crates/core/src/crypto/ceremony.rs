//! The key ceremony: a committed Pedersen DKG (`elastic_elgamal::dkg`) in which every teller
//! deals a random polynomial, so the election key is the sum of all of theirs and no machine
//! or person ever holds its secret. Three rounds, each waiting for every teller:
//!
//! 1. each teller publishes a **commitment** to its public key share (SHA-256 of the share's
//!    encoding and a random opening), so nobody can choose theirs after seeing the others';
//! 2. each publishes its **polynomial** (the public coefficients, a proof of possession of the
//!    secret ones, and the opening);
//! 3. each sends every other teller a **secret share**, encrypted to the recipient (by the
//!    caller: this module sees only plaintext shares), and checks the ones it receives against
//!    the sender's polynomial.
//!
//! Rounds 1 and 2 are public (log entries); [`election_key`] rebuilds the key set from them
//! alone, so an auditor needs no teller's help to know the election key and every key share.

use elastic_elgamal::dkg::{
    ParticipantCollectingCommitments, ParticipantCollectingPolynomials,
    ParticipantExchangingSecrets, PublicInfo,
};
use elastic_elgamal::group::ElementOps;
use elastic_elgamal::{PublicKey, SecretKey};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ActiveTeller, Group, KeySet, TellerParams};

/// A teller's public polynomial message (round 2).
pub type Polynomial = PublicInfo<'static, Group>;

/// Why the ceremony cannot go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CeremonyError {
    /// A teller's public message or secret share does not check out.
    #[error("teller {teller}: {reason}")]
    Teller {
        /// The teller at fault (1-based, as tellers are named).
        teller: usize,
        /// What is wrong.
        reason: String,
    },
    /// The board's shape does not match the election's tellers.
    #[error("{0}")]
    Board(String),
}

fn teller_fault(index: usize, reason: impl std::fmt::Display) -> CeremonyError {
    CeremonyError::Teller {
        teller: index + 1,
        reason: reason.to_string(),
    }
}

/// What the ceremony has produced so far, as one teller sees it: the public messages of
/// every teller (by 0-based index) and the secret shares sent to this teller, decrypted.
#[derive(Clone, Debug, Default)]
pub struct Board {
    /// Round 1: each teller's commitment.
    pub commitments: Vec<Option<[u8; 32]>>,
    /// Round 2: each teller's polynomial.
    pub polynomials: Vec<Option<Polynomial>>,
    /// Round 3: the share each teller sent to this one.
    pub shares: Vec<Option<SecretKey<Group>>>,
}

impl Board {
    /// An empty board for `params.count` tellers.
    pub fn new(params: TellerParams) -> Self {
        Self {
            commitments: vec![None; params.count],
            polynomials: vec![None; params.count],
            shares: vec![None; params.count],
        }
    }
}

/// A teller's private state between commands (to be kept encrypted at rest by the caller).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "stage", content = "state", rename_all = "snake_case")]
pub enum Teller {
    /// Round 1: waiting for every commitment.
    Committing(ParticipantCollectingCommitments<Group>),
    /// Round 2: waiting for every polynomial.
    Publishing(ParticipantCollectingPolynomials<Group>),
    /// Round 3: waiting for the secret shares sent to this teller.
    Exchanging(ParticipantExchangingSecrets<Group>),
    /// Done: holds this teller's key share.
    Ready(ActiveTeller),
}

/// What a teller has to publish or send in its current round.
#[derive(Clone, Debug)]
pub enum Outgoing {
    /// Its commitment (round 1).
    Commitment([u8; 32]),
    /// Its polynomial (round 2).
    Polynomial(Box<Polynomial>),
    /// The secret share for each other teller, by 0-based index (round 3).
    Shares(Vec<(usize, SecretKey<Group>)>),
    /// The key set it computed (the ceremony is over for it).
    Ready(Box<KeySet>),
}

impl Teller {
    /// Teller `index` (0-based) starts the ceremony with fresh randomness.
    pub fn new<R: CryptoRng + RngCore>(
        params: TellerParams,
        index: usize,
        rng: &mut R,
    ) -> Result<Self, CeremonyError> {
        if index >= params.count {
            return Err(CeremonyError::Board(format!(
                "teller {} does not exist: the election has {} tellers",
                index + 1,
                params.count
            )));
        }
        Ok(Self::Committing(ParticipantCollectingCommitments::new(
            params.library(),
            index,
            rng,
        )))
    }

    /// This teller's 0-based index.
    pub fn index(&self) -> usize {
        match self {
            Self::Committing(p) => p.index(),
            Self::Publishing(p) => p.index(),
            Self::Exchanging(p) => p.index(),
            Self::Ready(p) => p.index(),
        }
    }

    /// What this teller has to publish or send now.
    pub fn outgoing(&self) -> Outgoing {
        match self {
            Self::Committing(p) => Outgoing::Commitment(p.commitment()),
            Self::Publishing(p) => Outgoing::Polynomial(Box::new(p.public_info().into_owned())),
            Self::Exchanging(p) => {
                let n = p.params().shares;
                let shares = (0..n)
                    .filter(|&j| j != p.index())
                    .map(|j| (j, p.secret_share_for_participant(j)))
                    .collect();
                Outgoing::Shares(shares)
            }
            Self::Ready(p) => Outgoing::Ready(Box::new(p.key_set().clone())),
        }
    }

    /// Whether the ceremony is over for this teller.
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready(_))
    }

    /// Finishes the current round if the board holds everything it waits for; returns the
    /// new state and whether it moved. One round at a time: what the next round has to
    /// publish or send ([`Teller::outgoing`]) must go out before the round after it, so a
    /// caller publishes between calls. A message that does not check out is an error naming
    /// its teller; the caller keeps its saved state.
    pub fn advance(self, board: &Board) -> Result<(Self, bool), CeremonyError> {
        self.step(board)
    }

    fn step(self, board: &Board) -> Result<(Self, bool), CeremonyError> {
        match self {
            Self::Committing(mut p) => {
                let n = p.params().shares;
                check_len(board.commitments.len(), n)?;
                if board.commitments.iter().any(Option::is_none) {
                    return Ok((Self::Committing(p), false));
                }
                for (j, c) in board.commitments.iter().enumerate() {
                    if let (true, Some(c)) = (j != p.index(), c) {
                        p.insert_commitment(j, *c);
                    }
                }
                Ok((Self::Publishing(p.finish_commitment_phase()), true))
            }
            Self::Publishing(mut p) => {
                let n = p.params().shares;
                check_len(board.polynomials.len(), n)?;
                if board.polynomials.iter().any(Option::is_none) {
                    return Ok((Self::Publishing(p), false));
                }
                for (j, info) in board.polynomials.iter().enumerate() {
                    if let (true, Some(info)) = (j != p.index(), info) {
                        p.insert_public_polynomial(j, info.clone())
                            .map_err(|e| teller_fault(j, e))?;
                    }
                }
                Ok((Self::Exchanging(p.finish_polynomials_phase()), true))
            }
            Self::Exchanging(mut p) => {
                let n = p.params().shares;
                check_len(board.shares.len(), n)?;
                let me = p.index();
                if (0..n).any(|j| j != me && board.shares[j].is_none()) {
                    return Ok((Self::Exchanging(p), false));
                }
                for (j, share) in board.shares.iter().enumerate() {
                    if let (true, Some(share)) = (j != me, share) {
                        p.insert_secret_share(j, share.clone())
                            .map_err(|e| teller_fault(j, e))?;
                    }
                }
                let ready = p
                    .complete()
                    .map_err(|e| CeremonyError::Board(e.to_string()))?;
                Ok((Self::Ready(ready), true))
            }
            ready @ Self::Ready(_) => Ok((ready, false)),
        }
    }

    /// This teller's key share, once the ceremony is over.
    pub fn active(&self) -> Option<&ActiveTeller> {
        match self {
            Self::Ready(p) => Some(p),
            _ => None,
        }
    }
}

fn check_len(got: usize, want: usize) -> Result<(), CeremonyError> {
    if got == want {
        Ok(())
    } else {
        Err(CeremonyError::Board(format!(
            "the board lists {got} tellers, the election has {want}"
        )))
    }
}

/// The commitment a polynomial message must match: SHA-256 over the 32-byte encoding of its
/// constant coefficient followed by the 32-byte opening.
pub fn commitment_of(polynomial: &Polynomial, opening: &[u8]) -> Option<[u8; 32]> {
    let first = polynomial.polynomial.first()?;
    let mut encoded = [0_u8; 32];
    Group::serialize_element(first, &mut encoded);
    let mut h = Sha256::new();
    h.update(encoded);
    h.update(opening);
    Some(h.finalize().into())
}

/// The opening inside a polynomial message, as published (the library keeps it private; its
/// serialization is the public form).
pub fn opening_of(polynomial: &Polynomial) -> Option<Vec<u8>> {
    use base64::Engine;
    let value = serde_json::to_value(polynomial).ok()?;
    let text = value.get("opening")?.as_str()?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

/// The election's key set, rebuilt from the ceremony's public messages alone: every
/// polynomial must match its teller's commitment and carry a valid proof of possession; the
/// key shares are the sums of every teller's polynomial at each teller's point, and the
/// library checks they lie on one polynomial of the threshold's degree.
pub fn election_key(
    params: TellerParams,
    commitments: &[[u8; 32]],
    polynomials: &[Polynomial],
) -> Result<KeySet, CeremonyError> {
    check_len(commitments.len(), params.count)?;
    check_len(polynomials.len(), params.count)?;
    let mut shares: Vec<Option<<Group as ElementOps>::Element>> = vec![None; params.count];
    for (j, (commitment, poly)) in commitments.iter().zip(polynomials).enumerate() {
        let opening = opening_of(poly).ok_or_else(|| teller_fault(j, "no readable opening"))?;
        if commitment_of(poly, &opening).as_ref() != Some(commitment) {
            return Err(teller_fault(
                j,
                "the polynomial does not match the commitment",
            ));
        }
        let own = KeySet::new(
            params.library(),
            poly.polynomial.clone(),
            &poly.proof_of_possession,
        )
        .map_err(|e| teller_fault(j, e))?;
        for (i, key) in own.participant_keys().iter().enumerate() {
            let element = key.as_element();
            shares[i] = Some(shares[i].map_or(element, |sum| sum + element));
        }
    }
    let keys = shares
        .into_iter()
        .map(|sum| {
            let mut encoded = [0_u8; 32];
            Group::serialize_element(&sum?, &mut encoded);
            PublicKey::from_bytes(&encoded).ok()
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| CeremonyError::Board("a key share is missing or invalid".into()))?;
    KeySet::from_participants(params.library(), keys)
        .map_err(|e| CeremonyError::Board(e.to_string()))
}

/// A ceremony run in one process: every teller's final state and the public messages.
#[derive(Clone, Debug)]
pub struct LocalCeremony {
    /// Each teller's state (all ready).
    pub tellers: Vec<Teller>,
    /// Round 1's commitments, by teller.
    pub commitments: Vec<[u8; 32]>,
    /// Round 2's polynomials, by teller.
    pub polynomials: Vec<Polynomial>,
}

/// Runs a whole ceremony in one process (the demo and tests; a real election runs it across
/// the tellers' own machines).
pub fn run_locally<R: CryptoRng + RngCore>(
    params: TellerParams,
    rng: &mut R,
) -> Result<LocalCeremony, CeremonyError> {
    let mut tellers = (0..params.count)
        .map(|i| Teller::new(params, i, rng))
        .collect::<Result<Vec<_>, _>>()?;
    let mut boards = vec![Board::new(params); params.count];
    for _round in 0..4 {
        let outgoing: Vec<Outgoing> = tellers.iter().map(Teller::outgoing).collect();
        for (from, out) in outgoing.into_iter().enumerate() {
            for (to, board) in boards.iter_mut().enumerate() {
                match &out {
                    Outgoing::Commitment(c) => board.commitments[from] = Some(*c),
                    Outgoing::Polynomial(p) => board.polynomials[from] = Some((**p).clone()),
                    Outgoing::Shares(shares) => {
                        if let Some((_, s)) = shares.iter().find(|(j, _)| *j == to) {
                            board.shares[from] = Some(s.clone());
                        }
                    }
                    Outgoing::Ready(_) => {}
                }
            }
        }
        tellers = tellers
            .into_iter()
            .zip(&boards)
            .map(|(t, b)| t.advance(b).map(|(t, _)| t))
            .collect::<Result<Vec<_>, _>>()?;
        if tellers.iter().all(Teller::is_ready) {
            break;
        }
    }
    let board = &boards[0];
    Ok(LocalCeremony {
        tellers,
        commitments: board.commitments.iter().flatten().copied().collect(),
        polynomials: board.polynomials.iter().flatten().cloned().collect(),
    })
}

/// The ceremony as the log records it, entry by entry: what may come next, and what it has
/// produced. The service checks each ceremony entry with it before appending, and the
/// verifier replays the log through it, so both apply the same rules:
///
/// - `teller_key`: once per teller, for a teller of the election;
/// - `teller_polynomial`: once per teller, only after every teller's key (so nobody chooses a
///   polynomial after seeing the others'), matching its commitment, with a valid proof;
/// - `election_key`: once, after every polynomial, equal to the key set rebuilt from them;
/// - `teller_ready`: once per teller, after the election key;
/// - `ceremony_restart`: before the ceremony is complete, naming tellers who hold a seat (who
///   published a key, in this ceremony or before an earlier restart, and were not replaced
///   since); everything before it is void and round 1 starts again. The tellers it names are
///   replaced (no one may publish their identity key again); every other teller keeps theirs
///   (the others confirmed it by phone), so a teller who published a key before keeps
///   publishing the same identity — which is why a seat whose teller vanished after an earlier
///   restart can be named by a later one.
#[derive(Clone, Debug)]
pub struct Record {
    election: crate::ElectionId,
    params: TellerParams,
    keys: std::collections::BTreeMap<u32, crate::entry::TellerKey>,
    polynomials: std::collections::BTreeMap<u32, Polynomial>,
    election_key: Option<KeySet>,
    ready: std::collections::BTreeSet<u32>,
    /// The identity key each seat last published, across restarts (a replaced seat's removed).
    seats: std::collections::BTreeMap<u32, String>,
    /// The identity keys of replaced tellers: never published again.
    retired: std::collections::BTreeSet<String>,
    restarts: Vec<Restart>,
}

/// A restart of the key ceremony, as the log records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restart {
    /// The tellers replaced, each with the identity key they had published (hex).
    pub replaced: std::collections::BTreeMap<u32, String>,
}

impl Record {
    /// An empty record for `election` with these tellers.
    pub fn new(election: crate::ElectionId, params: TellerParams) -> Self {
        Self {
            election,
            params,
            keys: Default::default(),
            polynomials: Default::default(),
            election_key: None,
            ready: Default::default(),
            seats: Default::default(),
            retired: Default::default(),
            restarts: Vec::new(),
        }
    }

    fn teller(&self, teller: u32) -> Result<(), String> {
        if teller == 0 || teller as usize > self.params.count {
            return Err(format!(
                "teller {teller} is not one of the election's {} tellers",
                self.params.count
            ));
        }
        Ok(())
    }

    /// Adds a ceremony entry if the rules allow it here (other entry types change nothing).
    pub fn add(&mut self, body: &crate::entry::Body) -> Result<(), String> {
        use crate::entry::Body;
        match body {
            Body::TellerKey(k) => self.add_key(k),
            Body::TellerPolynomial(p) => self.add_polynomial(p),
            Body::ElectionKey(k) => self.add_election_key(k),
            Body::CeremonyRestart(r) => self.restart(&r.replaced),
            Body::TellerReady(r) => {
                self.teller(r.teller)?;
                if self.election_key.is_none() {
                    return Err("a teller is ready before the election key".into());
                }
                self.check_signed(body)?;
                if !self.ready.insert(r.teller) {
                    return Err(format!("teller {} is ready twice", r.teller));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn add_key(&mut self, k: &crate::entry::TellerKey) -> Result<(), String> {
        self.teller(k.teller)?;
        let hex = k.commitment.len() == 64
            && k.commitment
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex {
            return Err("the commitment is not 64 lowercase hex digits".into());
        }
        if !is_age_recipient(&k.recipient) {
            return Err(format!(
                "teller {}'s recipient is not an age X25519 recipient (bech32, `age1…`, 32 bytes)",
                k.teller
            ));
        }
        if self.keys.contains_key(&k.teller) {
            return Err(format!("teller {} publishes a second key", k.teller));
        }
        if let Some((other, _)) = self
            .seats
            .iter()
            .find(|(t, identity)| **t != k.teller && **identity == k.identity)
        {
            return Err(format!(
                "teller {} publishes the identity key of teller {other}",
                k.teller
            ));
        }
        if self.retired.contains(&k.identity) {
            return Err(format!(
                "teller {} publishes the identity key of a teller replaced when the ceremony \
                 restarted",
                k.teller
            ));
        }
        if let Some(before) = self.seats.get(&k.teller)
            && *before != k.identity
        {
            return Err(format!(
                "teller {} kept their seat when the ceremony restarted but publishes another \
                 identity key: a teller who stays keeps the key the others confirmed",
                k.teller
            ));
        }
        let entry =
            crate::entry::Entry::new(self.election, crate::entry::Body::TellerKey(k.clone()));
        super::identity::verify_entry(&entry, &k.identity)
            .map_err(|e| format!("teller {}'s key entry: {e}", k.teller))?;
        self.seats.insert(k.teller, k.identity.clone());
        self.keys.insert(k.teller, k.clone());
        Ok(())
    }

    /// A `ceremony_restart`: round 1 again, the seats of `replaced` given to someone else.
    fn restart(&mut self, replaced: &[u32]) -> Result<(), String> {
        if replaced.is_empty() || !replaced.windows(2).all(|w| w[0] < w[1]) {
            return Err(
                "a restart names its replaced tellers once each, ascending, at least one".into(),
            );
        }
        if self.is_complete() {
            return Err(
                "a restart of a complete key ceremony: once every teller is ready, the election \
                 key stands"
                    .into(),
            );
        }
        let mut gone = std::collections::BTreeMap::new();
        for teller in replaced {
            self.teller(*teller)?;
            let Some(identity) = self.seats.get(teller) else {
                return Err(format!(
                    "a restart replaces teller {teller}, who holds no seat (never published a \
                     key, or was replaced since): their seat is free without one"
                ));
            };
            gone.insert(*teller, identity.clone());
        }
        for (teller, identity) in &gone {
            self.seats.remove(teller);
            self.retired.insert(identity.clone());
        }
        self.keys.clear();
        self.polynomials.clear();
        self.election_key = None;
        self.ready.clear();
        self.restarts.push(Restart { replaced: gone });
        Ok(())
    }

    /// The restarts so far, in log order.
    pub fn restarts(&self) -> &[Restart] {
        &self.restarts
    }

    /// Checks that a signed entry (`teller_polynomial`, `teller_ready`, `tally_share`) of this
    /// election carries its teller's signature by the identity key of that teller's
    /// `teller_key`.
    pub fn check_signed(&self, body: &crate::entry::Body) -> Result<(), String> {
        let teller = body.signer().ok_or("not a teller's message")?;
        let key = self
            .keys
            .get(&teller)
            .ok_or_else(|| format!("teller {teller} has no identity key in the log"))?;
        let entry = crate::entry::Entry::new(self.election, body.clone());
        super::identity::verify_entry(&entry, &key.identity)
            .map_err(|e| format!("teller {teller}'s `{}` entry: {e}", body.kind().as_str()))
    }

    fn add_polynomial(&mut self, p: &crate::entry::TellerPolynomial) -> Result<(), String> {
        self.teller(p.teller)?;
        if self.keys.len() < self.params.count {
            return Err("a polynomial before every teller's commitment".into());
        }
        if self.polynomials.contains_key(&p.teller) {
            return Err(format!("teller {} publishes a second polynomial", p.teller));
        }
        self.check_signed(&crate::entry::Body::TellerPolynomial(p.clone()))?;
        let poly: Polynomial = serde_json::from_value(p.polynomial.clone())
            .map_err(|e| format!("teller {}'s polynomial is malformed: {e}", p.teller))?;
        let index = p.teller as usize - 1;
        let commitment: [u8; 32] = hex::decode(&self.keys[&p.teller].commitment)
            .ok()
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default();
        let opening = opening_of(&poly).unwrap_or_default();
        if commitment_of(&poly, &opening) != Some(commitment) {
            let fault = teller_fault(index, "the polynomial does not match the commitment");
            return Err(fault.to_string());
        }
        KeySet::new(
            self.params.library(),
            poly.polynomial.clone(),
            &poly.proof_of_possession,
        )
        .map_err(|e| teller_fault(index, e).to_string())?;
        self.polynomials.insert(p.teller, poly);
        Ok(())
    }

    fn add_election_key(&mut self, k: &crate::entry::ElectionKey) -> Result<(), String> {
        if self.election_key.is_some() {
            return Err("a second election key".into());
        }
        let rebuilt = self
            .rebuilt_key()
            .ok_or("the election key before every teller's polynomial")??;
        let logged: KeySet = serde_json::from_value(k.keys.clone())
            .map_err(|e| format!("the election key is malformed: {e}"))?;
        let same = logged.params() == rebuilt.params()
            && logged.shared_key() == rebuilt.shared_key()
            && logged.participant_keys() == rebuilt.participant_keys();
        if !same {
            return Err("the election key is not the one the tellers' polynomials give".into());
        }
        self.election_key = Some(rebuilt);
        Ok(())
    }

    /// The key set the logged polynomials give, once every teller's is in.
    pub fn rebuilt_key(&self) -> Option<Result<KeySet, String>> {
        if self.polynomials.len() < self.params.count {
            return None;
        }
        let commitments: Vec<[u8; 32]> = self
            .keys
            .values()
            .map(|k| {
                hex::decode(&k.commitment)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or_default()
            })
            .collect();
        let polynomials: Vec<Polynomial> = self.polynomials.values().cloned().collect();
        Some(election_key(self.params, &commitments, &polynomials).map_err(|e| e.to_string()))
    }

    /// The logged election key, if any.
    pub fn election_key(&self) -> Option<&KeySet> {
        self.election_key.as_ref()
    }

    /// The tellers' published keys and commitments, by teller number.
    pub fn teller_keys(&self) -> &std::collections::BTreeMap<u32, crate::entry::TellerKey> {
        &self.keys
    }

    /// Whether `teller` holds a seat: published a key, in this ceremony or before an earlier
    /// restart, and was not replaced since (their seat goes to someone else only by a
    /// restart naming them).
    pub fn holds_seat(&self, teller: u32) -> bool {
        self.seats.contains_key(&teller)
    }

    /// The tellers' logged polynomials, by teller number.
    pub fn polynomials(&self) -> &std::collections::BTreeMap<u32, Polynomial> {
        &self.polynomials
    }

    /// Tellers who reported ready.
    pub fn ready(&self) -> &std::collections::BTreeSet<u32> {
        &self.ready
    }

    /// Whether the election key is logged and every teller is ready.
    pub fn is_complete(&self) -> bool {
        self.election_key.is_some() && self.ready.len() == self.params.count
    }
}

/// Whether `recipient` is an age X25519 recipient as age writes it: lower-case bech32 (not
/// bech32m) with the human-readable part `age` and 32 bytes of key.
pub fn is_age_recipient(recipient: &str) -> bool {
    use bech32::FromBase32;
    if recipient.to_lowercase() != recipient {
        return false;
    }
    match bech32::decode(recipient) {
        Ok((hrp, data, bech32::Variant::Bech32)) if hrp == "age" => {
            Vec::<u8>::from_base32(&data).is_ok_and(|key| key.len() == 32)
        }
        _ => false,
    }
}
