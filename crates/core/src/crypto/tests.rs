//! The whole secret-ballot path in memory: ceremony, sealed ballots, sums per local, shares,
//! counts — checked against a plaintext recount kept beside it.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::ballot::{Context, open_proofs, seal, tracker};
use super::ceremony::{Board, CeremonyError, LocalCeremony, Teller, election_key, run_locally};
use super::tally::{Share, TallyError, combine, decrypt, sums, verify};
use super::*;

const OPTIONS: usize = 3;

fn election() -> crate::ElectionId {
    crate::ElectionId::parse("0192c7a0-0000-4000-8000-000000000001").unwrap()
}

/// Local `local` of the test election.
fn at<'a>(election: &'a crate::ElectionId, local: &'static str) -> Context<'a> {
    Context { election, local }
}

fn ceremony(count: usize, threshold: usize, seed: u64) -> LocalCeremony {
    let params = TellerParams::new(count, threshold).unwrap();
    run_locally(params, &mut StdRng::seed_from_u64(seed)).unwrap()
}

fn key_set(c: &LocalCeremony) -> KeySet {
    c.tellers[0].active().unwrap().key_set().clone()
}

/// Seals `choices` (per local) and returns each local's option sums.
fn sealed_sums(
    keys: &KeySet,
    choices: &BTreeMap<u8, Vec<usize>>,
    rng: &mut StdRng,
) -> BTreeMap<u8, Vec<Ciphertext>> {
    choices
        .iter()
        .map(|(local, picks)| {
            let e = election();
            let name = local.to_string();
            let context = Context {
                election: &e,
                local: &name,
            };
            let ballots: Vec<_> = picks
                .iter()
                .map(|&c| seal(keys.shared_key(), context, OPTIONS, c, rng).unwrap())
                .collect();
            let opened: Vec<Vec<Ciphertext>> = ballots
                .iter()
                .map(|b| open_proofs(keys.shared_key(), context, OPTIONS, b).unwrap())
                .collect();
            (*local, sums(OPTIONS, opened.iter().map(Vec::as_slice)))
        })
        .collect()
}

fn count_with(
    c: &LocalCeremony,
    tellers: &[usize],
    sums: &[Ciphertext],
    max: u64,
    rng: &mut StdRng,
) -> Result<Vec<u64>, TallyError> {
    let keys = key_set(c);
    let verified: Vec<_> = tellers
        .iter()
        .map(|&t| {
            let shares = decrypt(c.tellers[t].active().unwrap(), sums, rng).unwrap();
            (t, verify(&keys, t, sums, &shares).unwrap())
        })
        .collect();
    combine(&keys, sums, &verified, max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn decrypted_counts_are_the_plaintext_recount(
        tellers in prop_oneof![Just((1usize, 1usize)), Just((2, 3)), Just((3, 5)), Just((2, 2))],
        choices in proptest::collection::btree_map(0u8..4, proptest::collection::vec(0usize..OPTIONS, 0..12), 1..4),
        seed in any::<u64>(),
    ) {
        let (threshold, count) = tellers;
        let c = ceremony(count, threshold, seed);
        let keys = key_set(&c);
        let mut rng = StdRng::seed_from_u64(seed ^ 1);
        let sums = sealed_sums(&keys, &choices, &mut rng);
        let quorum: Vec<usize> = (0..threshold).rev().collect();
        for (local, picks) in &choices {
            let mut expected = vec![0u64; OPTIONS];
            for &p in picks {
                expected[p] += 1;
            }
            let counted = count_with(&c, &quorum, &sums[local], picks.len() as u64, &mut rng).unwrap();
            prop_assert_eq!(counted, expected);
        }
    }
}

#[test]
fn every_teller_and_an_auditor_agree_on_the_election_key() {
    let c = ceremony(5, 3, 7);
    let params = TellerParams::new(5, 3).unwrap();
    let rebuilt = election_key(params, &c.commitments, &c.polynomials).unwrap();
    for t in &c.tellers {
        let own = t.active().unwrap().key_set();
        assert_eq!(own.shared_key(), rebuilt.shared_key());
        assert_eq!(own.participant_keys(), rebuilt.participant_keys());
    }
    // A polynomial that is not the one committed to is named.
    let mut swapped = c.polynomials.clone();
    swapped.swap(1, 2);
    let err = election_key(params, &c.commitments, &swapped).unwrap_err();
    assert_eq!(
        err,
        CeremonyError::Teller {
            teller: 2,
            reason: "the polynomial does not match the commitment".into()
        }
    );
}

#[test]
fn any_threshold_of_tellers_opens_the_sums_and_fewer_say_how_many_more() {
    let c = ceremony(3, 2, 11);
    let keys = key_set(&c);
    let mut rng = StdRng::seed_from_u64(3);
    let choices = BTreeMap::from([(0u8, vec![0, 0, 1, 2, 0])]);
    let sums = &sealed_sums(&keys, &choices, &mut rng)[&0];
    for pair in [[0, 1], [0, 2], [1, 2], [2, 0]] {
        assert_eq!(
            count_with(&c, &pair, sums, 5, &mut rng).unwrap(),
            vec![3, 1, 1],
            "tellers {pair:?}"
        );
    }
    assert_eq!(
        count_with(&c, &[0, 1, 2], sums, 5, &mut rng).unwrap(),
        vec![3, 1, 1]
    );
    let err = count_with(&c, &[1], sums, 5, &mut rng).unwrap_err();
    assert_eq!(err, TallyError::NeedMore { have: 1, need: 2 });
    assert_eq!(
        err.to_string(),
        "1 of the 2 teller decryptions needed are in; 1 more needed"
    );
    // The same teller twice is still one teller.
    let err = count_with(&c, &[1, 1], sums, 5, &mut rng).unwrap_err();
    assert_eq!(err, TallyError::NeedMore { have: 1, need: 2 });
}

#[test]
fn a_share_is_accepted_only_from_its_teller_and_only_for_its_sums() {
    let c = ceremony(3, 2, 5);
    let keys = key_set(&c);
    let mut rng = StdRng::seed_from_u64(9);
    let choices = BTreeMap::from([(0u8, vec![1, 1]), (1u8, vec![0])]);
    let all = sealed_sums(&keys, &choices, &mut rng);
    let shares: Vec<Share> = decrypt(c.tellers[0].active().unwrap(), &all[&0], &mut rng).unwrap();
    // Teller 1's shares presented as teller 2's.
    assert_eq!(
        verify(&keys, 1, &all[&0], &shares).unwrap_err(),
        TallyError::BadShare { teller: 2, sum: 0 }
    );
    // Teller 1's shares of local 0 presented for local 1's sums.
    assert!(matches!(
        verify(&keys, 0, &all[&1], &shares),
        Err(TallyError::BadShare { teller: 1, .. })
    ));
    // No teller 4.
    assert_eq!(
        verify(&keys, 3, &all[&0], &shares).unwrap_err(),
        TallyError::NoSuchTeller(4)
    );
    assert!(verify(&keys, 0, &all[&0], &shares).is_ok());
}

#[test]
fn a_ballot_for_two_choices_or_none_fails_its_proof() {
    let c = ceremony(1, 1, 1);
    let keys = key_set(&c);
    let mut rng = StdRng::seed_from_u64(2);
    let e = election();
    let here = at(&e, "600");
    let ballot = seal(keys.shared_key(), here, OPTIONS, 0, &mut rng).unwrap();
    assert!(open_proofs(keys.shared_key(), here, OPTIONS, &ballot).is_ok());
    // Bound to its election and local: copied anywhere else, its proofs fail.
    assert!(open_proofs(keys.shared_key(), at(&e, "700"), OPTIONS, &ballot).is_err());
    let other = crate::ElectionId::parse("0192c7a0-0000-4000-8000-000000000002").unwrap();
    assert!(open_proofs(keys.shared_key(), at(&other, "600"), OPTIONS, &ballot).is_err());
    let json = serde_json::to_value(&ballot).unwrap();
    let choices = json["choices"].as_array().unwrap().clone();
    for forged in [
        vec![choices[0].clone(), choices[0].clone(), choices[2].clone()], // two yes
        vec![choices[1].clone(), choices[1].clone(), choices[2].clone()], // none
    ] {
        let mut tampered = json.clone();
        tampered["choices"] = serde_json::Value::Array(forged);
        let tampered: ballot::SealedBallot = serde_json::from_value(tampered).unwrap();
        assert!(open_proofs(keys.shared_key(), here, OPTIONS, &tampered).is_err());
    }
    // The number of options comes from the election, not the ballot.
    assert!(open_proofs(keys.shared_key(), here, 2, &ballot).is_err());
    // Equal ciphertexts, equal trackers; a fresh ballot for the same choice differs.
    assert_eq!(tracker(&ballot), tracker(&ballot.clone()));
    let again = seal(keys.shared_key(), here, OPTIONS, 0, &mut rng).unwrap();
    assert_ne!(tracker(&ballot), tracker(&again));
}

#[test]
fn a_teller_state_survives_being_saved_between_rounds() {
    let params = TellerParams::new(2, 2).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    let mut tellers: Vec<Teller> = (0..2)
        .map(|i| Teller::new(params, i, &mut rng).unwrap())
        .collect();
    let mut boards = vec![Board::new(params); 2];
    for _ in 0..3 {
        let out: Vec<_> = tellers.iter().map(Teller::outgoing).collect();
        for (from, o) in out.into_iter().enumerate() {
            for (to, b) in boards.iter_mut().enumerate() {
                match &o {
                    ceremony::Outgoing::Commitment(x) => b.commitments[from] = Some(*x),
                    ceremony::Outgoing::Polynomial(p) => b.polynomials[from] = Some((**p).clone()),
                    ceremony::Outgoing::Shares(s) => {
                        b.shares[from] = s.iter().find(|(j, _)| *j == to).map(|(_, s)| s.clone())
                    }
                    ceremony::Outgoing::Ready(_) => {}
                }
            }
        }
        // Save and reload every state, as the teller command does between runs.
        tellers = tellers
            .into_iter()
            .zip(&boards)
            .map(|(t, b)| {
                let saved = serde_json::to_vec(&t).unwrap();
                let loaded: Teller = serde_json::from_slice(&saved).unwrap();
                loaded.advance(b).unwrap().0
            })
            .collect();
    }
    assert!(tellers.iter().all(Teller::is_ready));
    assert_eq!(
        tellers[0].active().unwrap().key_set().shared_key(),
        tellers[1].active().unwrap().key_set().shared_key()
    );
    assert!(TellerParams::new(3, 4).is_err());
    assert!(TellerParams::new(0, 0).is_err());
    assert!(Teller::new(params, 2, &mut rng).is_err());
}

#[test]
fn a_batch_sealed_on_every_core_holds_each_choice_in_order() {
    let c = ceremony(2, 2, 8);
    let keys = key_set(&c);
    let e = election();
    let locals = ["600", "700"];
    let choices: Vec<(Context<'_>, usize)> = (0..25)
        .map(|i| (at(&e, locals[i % 2]), (i * 7) % OPTIONS))
        .collect();
    let sealed = ballot::seal_many(keys.shared_key(), OPTIONS, &choices).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    for (ballot, &(context, choice)) in sealed.iter().zip(&choices) {
        let opened = open_proofs(keys.shared_key(), context, OPTIONS, ballot).unwrap();
        let one = count_with(&c, &[0, 1], &opened, 1, &mut rng).unwrap();
        let mut expected = vec![0u64; OPTIONS];
        expected[choice] = 1;
        assert_eq!(one, expected);
    }
    let bad = [(at(&e, "600"), 0), (at(&e, "600"), 3)];
    assert!(ballot::seal_many(keys.shared_key(), OPTIONS, &bad).is_none());
}

#[test]
fn a_challenge_holds_only_the_choice_its_randomness_makes() {
    use elastic_elgamal::group::{ElementOps, Group as _, ScalarOps};
    let c = ceremony(1, 1, 9);
    let keys = key_set(&c);
    let e = election();
    let bound = ballot::context_key(keys.shared_key(), at(&e, "871"));
    let mut rng = StdRng::seed_from_u64(2);
    let randomness: Vec<[u8; 32]> = (0..OPTIONS)
        .map(|_| Group::generate_scalar(&mut rng).to_bytes())
        .collect();
    // What an honest page seals for option 1, built from the randomness it reveals.
    let sealed_for = |choice: usize| -> Vec<Ciphertext> {
        randomness
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let r = curve25519_dalek::Scalar::from_canonical_bytes(*r).unwrap();
                let mut blinded = bound.as_element() * r;
                if i == choice {
                    blinded += Group::generator();
                }
                ballot::ciphertext_of(&Group::mul_generator(&r), &blinded)
            })
            .collect()
    };
    let ballot = sealed_for(1);
    assert_eq!(
        ballot::holds_choice(&bound, &ballot, 1, &randomness),
        Ok(())
    );
    // The page said "yes" (0) but sealed option 1: caught.
    assert_eq!(
        ballot::holds_choice(&bound, &ballot, 0, &randomness),
        Err(ballot::ChallengeError::NotTheChoice)
    );
    let mut other = randomness.clone();
    other[2] = Group::generate_scalar(&mut rng).to_bytes();
    assert_eq!(
        ballot::holds_choice(&bound, &ballot, 1, &other),
        Err(ballot::ChallengeError::NotTheChoice)
    );
    // Under another local's key the same randomness makes other ciphertexts.
    let elsewhere = ballot::context_key(keys.shared_key(), at(&e, "872"));
    assert!(ballot::holds_choice(&elsewhere, &ballot, 1, &randomness).is_err());
    let mut unreduced = randomness.clone();
    unreduced[0] = [0xff; 32];
    assert!(matches!(
        ballot::holds_choice(&bound, &ballot, 1, &unreduced),
        Err(ballot::ChallengeError::Malformed(_))
    ));
    assert!(matches!(
        ballot::holds_choice(&bound, &ballot, OPTIONS, &randomness),
        Err(ballot::ChallengeError::Malformed(_))
    ));
    assert!(matches!(
        ballot::holds_choice(&bound, &ballot, 1, &randomness[..2]),
        Err(ballot::ChallengeError::Malformed(_))
    ));
}
