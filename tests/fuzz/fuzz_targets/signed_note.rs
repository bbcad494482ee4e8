//! The signed-note parsers: verifier keys, checkpoints (signed and bare), never a panic; a
//! note that verifies under the fixed key re-serializes to a checkpoint with the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strikevote_core::note::{Checkpoint, LogSigner, Verifier};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Verifier::parse(text);
    let _ = Checkpoint::parse(text);
    let _ = strikevote_core::note::parse_fingerprint(text);
    let signer = LogSigner::from_seed(&[7; 32]);
    let verifier = signer.verifier("vote.example.org/elections/x");
    if let Ok(c) = verifier.verify_checkpoint(text) {
        let again = verifier
            .verify_checkpoint(&signer.sign_checkpoint(&c))
            .expect("re-signed");
        assert_eq!((again.size, again.root), (c.size, c.root));
    }
});
