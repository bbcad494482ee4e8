//! A teller's decryption beside the server: the count through the database ([`DirectTally`],
//! for `strikevote teller decrypt` without `--server`). What the teller checks and makes is the
//! teller crate's ([`strikevote_teller::decrypt`]), the same code a teller runs on their own
//! machine.

use strikevote_teller::Result;
pub use strikevote_teller::decrypt::{Options, Prepared, Ready, Status, TallyChannel, prepare};

use crate::audit;
use crate::db::DbConnection;
use crate::election::ElectionId;
use crate::election::decryption;
use crate::log::LogKey;
use crate::log::entry::TallyShare;

/// The count in the database, beside the server.
pub struct DirectTally<'a> {
    /// The connection.
    pub conn: &'a mut DbConnection,
    /// The log key.
    pub signer: &'a LogKey,
    /// The election.
    pub id: ElectionId,
}

impl TallyChannel for DirectTally<'_> {
    fn bundle(&mut self) -> Result<(Vec<u8>, String, String)> {
        Ok(audit::bundle_files(self.conn, self.id, self.signer)?)
    }

    fn submit(&mut self, share: &TallyShare) -> Result<Status> {
        Ok(decryption::submit(self.conn, self.id, share.clone(), self.signer)?.status)
    }
}
