//! A member's own look-ups: their ballot by receipt (with its proof against the latest
//! checkpoint) and the public name of their token's status. Shared by the pages and the API.

use crate::db::DbConnection;
use crate::election;
use crate::error::{Error, ErrorCode, Result};
use crate::log::entry::{Body, Entry};
use crate::log::witnessing::Witnessing;
use crate::log::{merkle, store};
use crate::token::TokenStatus;
use crate::token::parse_receipt;

/// A ballot found by its receipt, with its proof checked against the latest checkpoint.
pub struct FoundReceipt {
    /// The election.
    pub election: crate::election::ElectionId,
    /// The election's title.
    pub title: String,
    /// The election's public address (members check receipts at `<it>/verify`).
    pub public_url: String,
    /// The receipt, as written in the log.
    pub receipt: String,
    /// Whether the election's result is certified.
    pub certified: bool,
    /// Where the ballot stands.
    pub index: u64,
    /// The entry's exact text (it holds the sealed ballot, never a choice).
    pub entry: String,
    /// The ballot's tracker.
    pub tracker: String,
    /// The latest checkpoint's size.
    pub tree_size: u64,
    /// The latest signed checkpoint.
    pub checkpoint: String,
    /// Inclusion proof in that tree.
    pub proof: Vec<merkle::Hash>,
    /// Whether the proof leads from the entry to the checkpoint's root.
    pub verified: bool,
}

impl FoundReceipt {
    /// The ballot's inclusion in the published checkpoint as a C2SP `tlog-proof`, checkable
    /// offline with the log key and the witnesses' keys.
    pub fn tlog_proof(&self) -> String {
        tlog_proof(self.index, &self.proof, &self.checkpoint)
    }
}

/// Entry `index`'s inclusion `proof` in the checkpoint `note`, as a C2SP `tlog-proof`.
pub fn tlog_proof(index: u64, proof: &[merkle::Hash], note: &str) -> String {
    strikevote_core::witness::TlogProof {
        index,
        proof: proof.to_vec(),
        note: note.to_owned(),
    }
    .to_text()
}

/// Finds a receipt's ballot and proves it into the latest checkpoint.
pub fn lookup_receipt(c: &mut DbConnection, typed: &str) -> Result<FoundReceipt> {
    let not_found = || {
        Error::not_found(
            ErrorCode::ReceiptUnknown,
            "no ballot with this receipt is in any election's log",
        )
    };
    let receipt = parse_receipt(typed).ok_or_else(not_found)?;
    let (id, index) = store::find_receipt(c, &receipt)?.ok_or_else(not_found)?;
    let election = election::find(c, id)?;
    let checkpoint = Witnessing::default().newest_published(c, &election, &election.definition)?;
    if index >= checkpoint.size {
        return Err(Error::Unwitnessed(
            "this ballot is in the log, but the vote's independent witnesses have not yet \
             confirmed the checkpoint that covers it: try again in a few minutes"
                .into(),
        ));
    }
    let entry = store::entries(c, id, index, index + 1)?
        .pop()
        .ok_or_else(not_found)?;
    let proof = store::inclusion_proof(c, &election, index, checkpoint.size)?;
    let verified = merkle::verify_inclusion(
        index,
        checkpoint.size,
        &merkle::leaf_hash(&entry.bytes),
        &proof,
        &checkpoint.root,
    );
    let tracker = match Entry::parse(&entry.bytes).map(|e| e.body) {
        Ok(Body::Ballot(ballot)) => ballot.tracker(),
        _ => return Err(not_found()),
    };
    let entry = String::from_utf8_lossy(&entry.bytes).into_owned();
    Ok(FoundReceipt {
        election: id,
        title: election.definition.title,
        public_url: election.public_url.to_string(),
        receipt: receipt.clone(),
        certified: election.state == election::State::Certified,
        index,
        tracker,
        entry,
        tree_size: checkpoint.size,
        checkpoint: checkpoint.note,
        proof,
        verified,
    })
}

/// The member-facing name of a token status.
pub fn public_status(stored: TokenStatus) -> &'static str {
    match stored {
        TokenStatus::Live => "not_used",
        TokenStatus::Used => "used",
        TokenStatus::Revoked => "revoked",
    }
}
