use super::*;
use crate::note::LogSigner;

const ORIGIN: &str = "vote.example.org/elections/0192c7a0-0000-7000-8000-000000000000";

fn witness(seed: u8) -> WitnessKey {
    WitnessKey::from_seed(&format!("witness{seed}.example.org"), &[seed; 32]).unwrap()
}

fn log() -> LogSigner {
    LogSigner::from_seed(&[9; 32])
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| merkle::leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

/// The checkpoint of the first `size` leaves of [`leaves`].
fn checkpoint(size: u64) -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: merkle::root_of(&leaves(size)),
    }
}

fn proof_of(plan: &[(u64, u64)], all: &[Hash]) -> Vec<Hash> {
    plan.iter()
        .map(|&(s, e)| merkle::root_of(&all[s as usize..e as usize]))
        .collect()
}

fn consistency(from: u64, to: u64) -> Vec<Hash> {
    proof_of(&merkle::consistency_plan(from, to).unwrap(), &leaves(to))
}

#[test]
fn a_cosignature_has_the_c2sp_layout_and_verifies() {
    let w = witness(1);
    let note = log().sign_checkpoint(&checkpoint(5));
    let line = w.cosign(&checkpoint(5).body(), 1_679_315_147);
    let (name, blob) = line
        .strip_prefix("\u{2014} ")
        .and_then(|l| l.strip_suffix('\n'))
        .and_then(|l| l.split_once(' '))
        .unwrap();
    assert_eq!(name, "witness1.example.org");
    let blob = B64.decode(blob).unwrap();
    assert_eq!(blob.len(), 4 + 8 + 64);
    assert_eq!(blob[..4], key_id_of(name, 0x04, &w.verifier().public_key()));
    assert_eq!(blob[4..12], 1_679_315_147u64.to_be_bytes());
    // The signature is over the header lines and the note text, as the spec writes them.
    let message = format!(
        "cosignature/v1\ntime 1679315147\n{ORIGIN}\n5\n{}\n",
        B64.encode(checkpoint(5).root)
    );
    let sig = Signature::from_bytes(&<[u8; 64]>::try_from(&blob[12..]).unwrap());
    assert!(
        VerifyingKey::from_bytes(&w.verifier().public_key())
            .unwrap()
            .verify_strict(message.as_bytes(), &sig)
            .is_ok()
    );

    let cosigned = format!("{note}{line}");
    assert_eq!(w.verifier().cosigned(&cosigned), Ok(1_679_315_147));
    // The log's own signature still verifies beside it.
    assert_eq!(
        log().verifier(ORIGIN).verify_checkpoint(&cosigned),
        Ok(checkpoint(5))
    );
    // The verifier key names type 0x04 and round-trips.
    let vkey = w.verifier().to_string();
    assert!(vkey.starts_with("witness1.example.org+"));
    assert_eq!(
        B64.decode(vkey.rsplit('+').next().unwrap()).unwrap()[0],
        0x04
    );
    assert_eq!(WitnessVerifier::parse(&vkey), Ok(w.verifier()));
    // A note verifier key (type 0x01) is not a witness key, nor the other way round.
    assert!(WitnessVerifier::parse(&log().verifier(ORIGIN).to_string()).is_err());
    assert!(Verifier::parse(&vkey).is_err());
}

#[test]
fn a_changed_time_or_checkpoint_or_another_witness_does_not_pass() {
    let w = witness(1);
    let note = log().sign_checkpoint(&checkpoint(5));
    let cosigned = format!("{note}{}", w.cosign(&checkpoint(5).body(), 100));
    assert_eq!(
        witness(2).verifier().cosigned(&cosigned),
        Err(NoteError::NotSigned("witness2.example.org".into()))
    );
    let other_size = cosigned.replacen("\n5\n", "\n6\n", 1);
    assert!(matches!(
        w.verifier().cosigned(&other_size),
        Err(NoteError::BadSignature(_))
    ));
    // Rewrite the timestamp inside the blob: the signature covers it.
    let line = w.cosign(&checkpoint(5).body(), 100);
    let encoded = line.trim_end().rsplit(' ').next().unwrap();
    let mut blob = B64.decode(encoded).unwrap();
    blob[11] ^= 1;
    let forged = format!("{note}{}", signature_line(w.name(), &blob));
    assert!(matches!(
        w.verifier().cosigned(&forged),
        Err(NoteError::BadSignature(_))
    ));
    // A witness's key used as a log key's signature (type 0x01 message) does not verify.
    let as_note = LogSigner::from_seed(&[1; 32]).sign_checkpoint(&Checkpoint {
        origin: "witness1.example.org".into(),
        ..checkpoint(5)
    });
    assert!(w.verifier().cosigned(&as_note).is_err());
}

#[test]
fn the_quorum_counts_distinct_witnesses_whose_cosignature_verifies() {
    let note = log().sign_checkpoint(&checkpoint(7));
    let body = checkpoint(7).body();
    let witnesses: Vec<WitnessVerifier> = (1..=3).map(|s| witness(s).verifier()).collect();
    let one = format!("{note}{}", witness(1).cosign(&body, 1));
    // The same witness twice is still one witness.
    let twice = format!("{one}{}", witness(1).cosign(&body, 2));
    assert_eq!(
        check_quorum(&twice, &witnesses, 2),
        Err(QuorumError::Short {
            quorum: 2,
            cosigned: vec!["witness1.example.org".into()],
            bad: vec![],
        })
    );
    let two = format!("{one}{}", witness(3).cosign(&body, 1));
    assert_eq!(
        check_quorum(&two, &witnesses, 2),
        Ok(vec![
            "witness1.example.org".into(),
            "witness3.example.org".into()
        ])
    );
    // A witness nobody pinned counts for nothing.
    let stranger = format!("{one}{}", witness(4).cosign(&body, 1));
    assert!(check_quorum(&stranger, &witnesses, 2).is_err());
    assert_eq!(check_quorum(&note, &witnesses, 0), Ok(vec![]));
    let message = check_quorum(&one, &witnesses, 3).unwrap_err().to_string();
    assert_eq!(
        message,
        "the checkpoint is cosigned by 1 of the 3 witnesses it needs (witness1.example.org)"
    );
}

#[test]
fn add_checkpoint_requests_round_trip_and_malformed_ones_are_refused() {
    let note = log().sign_checkpoint(&checkpoint(20));
    let request = AddCheckpoint {
        old_size: 13,
        proof: consistency(13, 20),
        note: note.clone(),
    };
    let body = request.to_body();
    assert!(body.starts_with("old 13\n"));
    assert_eq!(AddCheckpoint::parse(&body), Ok(request));
    let first = AddCheckpoint::parse(&format!("old 0\n\n{note}")).unwrap();
    assert_eq!((first.old_size, first.proof.len()), (0, 0));
    let hash = B64.encode([1u8; 32]);
    for bad in [
        format!("old 013\n\n{note}"),
        format!("old -1\n\n{note}"),
        format!("new 1\n\n{note}"),
        format!("old 1\n{hash}\n{note}"),
        format!("old 1\nnot base64\n\n{note}"),
        format!("old 1\n{}\n\n{note}", B64.encode([1u8; 31])),
        format!("old 1\n{}\n{note}", format!("{hash}\n").repeat(64)),
    ] {
        assert!(AddCheckpoint::parse(&bad).is_err(), "{bad}");
    }
    let most = format!("old 1\n{}\n{note}", format!("{hash}\n").repeat(63));
    assert_eq!(AddCheckpoint::parse(&most).unwrap().proof.len(), 63);
}

fn request(old: u64, proof: Vec<Hash>, new: &Checkpoint) -> AddCheckpoint {
    AddCheckpoint {
        old_size: old,
        proof,
        note: log().sign_checkpoint(new),
    }
}

#[test]
fn the_witness_rules_accept_only_an_extension_of_what_it_cosigned() {
    let (c13, c20) = (checkpoint(13), checkpoint(20));
    // First sight: old size 0, no proof.
    assert_eq!(judge(None, &request(0, vec![], &c13), &c13), Ok(()));
    assert!(matches!(
        judge(None, &request(0, vec![[0; 32]], &c13), &c13),
        Err(Refusal::BadRequest(_))
    ));
    // An extension with its proof.
    assert_eq!(
        judge(Some(&c13), &request(13, consistency(13, 20), &c20), &c20),
        Ok(())
    );
    // The same checkpoint again is cosigned again.
    assert_eq!(judge(Some(&c20), &request(20, vec![], &c20), &c20), Ok(()));
    // A caller behind (or ahead) is told the witness's size.
    let behind = judge(Some(&c20), &request(13, consistency(13, 20), &c20), &c20);
    assert_eq!(behind, Err(Refusal::Behind { latest: 20 }));
    assert_eq!(behind.unwrap_err().status(), 409);
    assert_eq!(
        judge(None, &request(13, consistency(13, 20), &c20), &c20),
        Err(Refusal::Behind { latest: 0 })
    );
    // Going backwards: old size beyond the checkpoint.
    let back = judge(Some(&c20), &request(20, vec![], &c13), &c13).unwrap_err();
    assert_eq!(back.status(), 400);
    assert!(!back.is_evidence());
}

#[test]
fn a_fork_is_refused_and_is_evidence() {
    let c13 = checkpoint(13);
    // Another tree of size 20 from the same 13 first entries (a restored database).
    let mut other = leaves(13);
    other.extend((0..7).map(|i| merkle::leaf_hash(format!("other {i}").as_bytes())));
    let fork = Checkpoint {
        origin: ORIGIN.into(),
        size: 20,
        root: merkle::root_of(&other),
    };
    let honest = checkpoint(20);
    // The fork's own proof is valid from 13: a witness at 13 cannot tell (the fork is real
    // only once two views exist) ...
    let fork_proof = proof_of(&merkle::consistency_plan(13, 20).unwrap(), &other);
    assert_eq!(
        judge(Some(&c13), &request(13, fork_proof.clone(), &fork), &fork),
        Ok(())
    );
    // ... but a witness that cosigned the honest 20 refuses the fork at 20 ...
    let same_size = judge(Some(&honest), &request(20, vec![], &fork), &fork).unwrap_err();
    assert_eq!(same_size, Refusal::OtherRoot { size: 20 });
    assert!(same_size.is_evidence());
    // ... and any later tree of the fork, whatever proof is offered.
    let mut longer = other.clone();
    longer.push(merkle::leaf_hash(b"more"));
    let fork21 = Checkpoint {
        origin: ORIGIN.into(),
        size: 21,
        root: merkle::root_of(&longer),
    };
    let its_proof = proof_of(&merkle::consistency_plan(20, 21).unwrap(), &longer);
    let refused = judge(Some(&honest), &request(20, its_proof, &fork21), &fork21).unwrap_err();
    assert_eq!(refused, Refusal::Inconsistent { from: 20, to: 21 });
    assert_eq!(refused.status(), 422);
    assert!(refused.is_evidence());
}

#[test]
fn a_witness_trusts_only_the_logs_it_was_given() {
    let logs = [WitnessedLog {
        origin_prefix: "vote.example.org/elections/".into(),
        public_key: log().public_key(),
    }];
    let note = log().sign_checkpoint(&checkpoint(3));
    assert_eq!(signed_checkpoint(&logs, &note), Ok(checkpoint(3)));
    let elsewhere = log().sign_checkpoint(&Checkpoint {
        origin: "other.example.org/log".into(),
        ..checkpoint(3)
    });
    assert_eq!(
        signed_checkpoint(&logs, &elsewhere).unwrap_err().status(),
        404
    );
    let impostor = LogSigner::from_seed(&[8; 32]).sign_checkpoint(&checkpoint(3));
    assert_eq!(
        signed_checkpoint(&logs, &impostor).unwrap_err().status(),
        403
    );
    assert_eq!(signed_checkpoint(&logs, "junk").unwrap_err().status(), 400);
}

#[test]
fn a_tlog_proof_round_trips_and_proves_inclusion_under_the_quorum() {
    let all = leaves(11);
    let cp = checkpoint(11);
    let body = cp.body();
    let note = format!(
        "{}{}{}",
        log().sign_checkpoint(&cp),
        witness(1).cosign(&body, 5),
        witness(2).cosign(&body, 6)
    );
    let proof = TlogProof {
        index: 6,
        proof: proof_of(&merkle::inclusion_plan(6, 11).unwrap(), &all),
        note,
    };
    let text = proof.to_text();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 6\n"));
    assert_eq!(TlogProof::parse(&text), Ok(proof.clone()));
    let with_extra = text.replacen("\nindex", "\nextra AAAA\nindex", 1);
    assert_eq!(TlogProof::parse(&with_extra), Ok(proof.clone()));
    let witnesses = [witness(1).verifier(), witness(2).verifier()];
    let verifier = log().verifier(ORIGIN);
    let (checked, cosigned) = proof.verify(&all[6], &verifier, &witnesses, 2).unwrap();
    assert_eq!((checked, cosigned.len()), (cp, 2));
    assert!(proof.verify(&all[5], &verifier, &witnesses, 2).is_err());
    assert!(
        proof
            .verify(
                &all[6],
                &verifier,
                &[witness(1).verifier(), witness(3).verifier()],
                2
            )
            .is_err()
    );
}

proptest::proptest! {
    /// Every mutation of a real request, proof or cosigned note is an error or a value.
    #[test]
    fn mutated_requests_and_cosignatures_never_panic(
        at in proptest::prelude::any::<proptest::sample::Index>(),
        with in "[ -~\n—]{0,3}",
    ) {
        let cp = checkpoint(20);
        let note = format!("{}{}", log().sign_checkpoint(&cp), witness(1).cosign(&cp.body(), 9));
        let texts = [
            request(13, consistency(13, 20), &cp).to_body(),
            TlogProof { index: 3, proof: consistency(13, 20), note: note.clone() }.to_text(),
            note,
            witness(1).verifier().to_string(),
        ];
        for text in texts {
            let chars: Vec<char> = text.chars().collect();
            let i = at.index(chars.len());
            let mutated: String = chars[..i].iter().copied().chain(with.chars()).chain(chars[i..].iter().copied()).collect();
            let _ = AddCheckpoint::parse(&mutated);
            let _ = TlogProof::parse(&mutated);
            let _ = WitnessVerifier::parse(&mutated);
            let _ = witness(1).verifier().cosigned(&mutated);
            let _ = check_quorum(&mutated, &[witness(1).verifier()], 1);
        }
    }
}
