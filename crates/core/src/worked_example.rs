//! The worked example of docs/LOG_FORMAT.md, recomputed so the document stays true.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::merkle::{leaf_hash, node_hash, root_of};
use crate::note::{Checkpoint, LogSigner};

const DOC: &str = include_str!("../../../docs/LOG_FORMAT.md");
pub(crate) const E: &str = "0192c7a0-5b1e-4c3d-9e8f-0a1b2c3d4e5f";

pub(crate) fn entries() -> Vec<String> {
    vec![
        format!(
            r#"{{"v":1,"type":"election","election":"{E}","title":"Example","question":"Strike?","choices":["yes","no"],"rule":"popular","threshold":{{"num":1,"den":2,"cmp":"more_than"}},"local_threshold":null,"quorum":null,"locals":[{{"code":"1","name":"One","delegates":0}}],"opens_at":"2026-10-01T07:00:00Z","closes_at":"2026-10-04T07:00:00Z","tellers":{{"count":1,"threshold":1,"names":[]}}}}"#
        ),
        format!(
            r#"{{"v":1,"type":"roster","election":"{E}","local":"1","eligible":2,"digest":"{}"}}"#,
            hex::encode(crate::entry::roster_digest(["M1", "M2"]))
        ),
        format!(r#"{{"v":1,"type":"open","election":"{E}","at":"2026-10-01T07:00:00Z"}}"#),
        format!(
            r#"{{"v":1,"type":"ballot","election":"{E}","local":"1","choice":"yes","receipt":"7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE"}}"#
        ),
        format!(r#"{{"v":1,"type":"close","election":"{E}","at":"2026-10-04T07:00:00Z"}}"#),
    ]
}

#[test]
fn the_documented_example_is_what_the_code_computes() {
    let entries = entries();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e.as_bytes())).collect();
    let mut shown = Vec::new();
    for (e, l) in entries.iter().zip(&leaves) {
        shown.push(e.clone());
        shown.push(hex::encode(l));
    }
    let n01 = node_hash(&leaves[0], &leaves[1]);
    let n23 = node_hash(&leaves[2], &leaves[3]);
    let n0123 = node_hash(&n01, &n23);
    let root = node_hash(&n0123, &leaves[4]);
    assert_eq!(root, root_of(&leaves));
    assert_eq!(
        crate::merkle::inclusion_plan(3, 5).unwrap(),
        [(2, 3), (0, 2), (4, 5)]
    );
    assert_eq!(crate::merkle::consistency_plan(4, 5).unwrap(), [(4, 5)]);
    for h in [n01, n23, n0123, root] {
        shown.push(hex::encode(h));
    }
    shown.push(B64.encode(root));
    let signer = LogSigner::from_seed(&[0x42; 32]);
    let origin = format!("vote.example.org/elections/{E}");
    let note = signer.sign_checkpoint(&Checkpoint {
        origin: origin.clone(),
        size: 5,
        root,
    });
    shown.push(note);
    shown.push(signer.verifier(&origin).to_string());
    if std::env::var("SHOW_WORKED_EXAMPLE").is_ok() {
        for s in &shown {
            eprintln!("SHOWN\t{}", s.replace('\n', "\\n"));
        }
    }
    let missing: Vec<_> = shown.iter().filter(|s| !DOC.contains(s.as_str())).collect();
    assert!(
        missing.is_empty(),
        "docs/LOG_FORMAT.md lacks:\n{}",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
