//! The ceremony over HTTPS, for a teller on their own machine: every request carries the
//! teller's invitation code. The teller replays the ceremony's log entries itself, so a
//! server that lied about them would be caught by the same rules the verifier applies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use strikevote_core::crypto::TellerParams;
use strikevote_core::crypto::ceremony::Record;

use super::ceremony::Channel;
use super::decrypt::TallyChannel;
use super::store::SignedShare;
use crate::election::ElectionId;
use crate::election::decryption::Status;
use crate::error::{Error, ErrorCode, Result};
use crate::log::entry::TallyShare;
use crate::log::entry::{Entry, NewEntry};

/// Teller `teller` of election `id` at `server`.
pub struct Remote {
    agent: ureq::Agent,
    id: ElectionId,
    /// `<server>/api/v1/elections/<id>`.
    election: String,
    /// The teller's routes under it.
    base: String,
    code: String,
}

#[derive(Deserialize)]
struct Board {
    tellers: Tellers,
    entries: Vec<String>,
    sent: bool,
    shares: Vec<Share>,
}

#[derive(Deserialize)]
struct Tellers {
    count: usize,
    threshold: usize,
}

#[derive(Deserialize)]
struct Share {
    from: u32,
    sealed: String,
    signature: String,
}

impl Remote {
    /// A channel to `server` (`https://host`, or `http://localhost:…` for tests).
    pub fn new(server: &str, id: ElectionId, teller: u32, code: &str) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(30))
            .build();
        let election = format!("{}/api/v1/elections/{id}", server.trim_end_matches('/'));
        Self {
            agent,
            id,
            base: format!("{election}/tellers/{teller}"),
            election,
            code: code.trim().to_owned(),
        }
    }

    fn answer(result: std::result::Result<ureq::Response, ureq::Error>) -> Result<ureq::Response> {
        match result {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(status, response)) => {
                let message = response
                    .into_json::<serde_json::Value>()
                    .ok()
                    .and_then(|v| v["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("the server answered {status}"));
                Err(match status {
                    401 => Error::Unauthorized(message),
                    409 | 400 => Error::conflict(ErrorCode::CeremonyRefused, message),
                    _ => Error::Internal(message),
                })
            }
            Err(e) => Err(Error::Internal(format!("cannot reach the server: {e}"))),
        }
    }

    fn board(&self) -> Result<Board> {
        let request = self
            .agent
            .get(&format!("{}/board", self.base))
            .set("Authorization", &format!("Teller {}", self.code));
        Self::answer(request.call())?
            .into_json()
            .map_err(|e| Error::Internal(format!("the server's answer is unreadable: {e}")))
    }

    fn post(&self, what: &str, body: serde_json::Value) -> Result<()> {
        let request = self
            .agent
            .post(&format!("{}/{what}", self.base))
            .set("Authorization", &format!("Teller {}", self.code));
        Self::answer(request.send_json(body)).map(|_| ())
    }
}

impl Remote {
    fn text(&self, path: &str) -> Result<String> {
        let request = self.agent.get(&format!("{}/{path}", self.election));
        Self::answer(request.call())?
            .into_string()
            .map_err(|e| Error::Internal(format!("the server's answer is unreadable: {e}")))
    }
}

impl TallyChannel for Remote {
    /// The checkpoint first, then exactly the entries it covers, page by page (later appends
    /// cannot make the two disagree).
    fn bundle(&mut self) -> Result<(Vec<u8>, String, String)> {
        let checkpoint = self.text("checkpoint")?;
        let size: u64 = checkpoint
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| Error::Internal("the server's checkpoint is malformed".into()))?;
        let mut log = Vec::new();
        let mut next = 0u64;
        while next < size {
            let page = self.text(&format!("entries?start={next}&end={size}"))?;
            let lines = page.lines().count() as u64;
            if lines == 0 {
                return Err(Error::Internal(format!("the server's log ends at {next}")));
            }
            log.extend_from_slice(page.as_bytes());
            next += lines;
        }
        let key = self.text("key")?;
        Ok((log, checkpoint, key))
    }

    fn submit(&mut self, share: &TallyShare) -> Result<Status> {
        let request = self.agent.post(&format!("{}/tally-shares", self.election));
        let answer: serde_json::Value = Self::answer(request.send_json(share))?
            .into_json()
            .map_err(|e| Error::Internal(format!("the server's answer is unreadable: {e}")))?;
        serde_json::from_value(answer["decryption"].clone())
            .map_err(|e| Error::Internal(format!("the server's answer is unreadable: {e}")))
    }
}

impl Channel for Remote {
    fn params(&mut self) -> Result<TellerParams> {
        let t = self.board()?.tellers;
        TellerParams::new(t.count, t.threshold).map_err(|e| Error::Internal(e.to_string()))
    }

    fn record(&mut self) -> Result<Record> {
        let board = self.board()?;
        let params = TellerParams::new(board.tellers.count, board.tellers.threshold)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut record = Record::new(self.id, params);
        for text in &board.entries {
            let entry = Entry::parse(text.as_bytes())
                .map_err(|e| Error::Internal(format!("the server sent a malformed entry: {e}")))?;
            record.add(&entry.body).map_err(|e| {
                Error::conflict(
                    ErrorCode::CeremonyRefused,
                    format!("the server's ceremony log breaks the rules: {e}"),
                )
            })?;
        }
        Ok(record)
    }

    fn publish(&mut self, message: NewEntry) -> Result<()> {
        let entry = String::from_utf8_lossy(&message.bytes).into_owned();
        self.post("messages", serde_json::json!({ "entry": entry }))
    }

    fn has_sent(&mut self) -> Result<bool> {
        Ok(self.board()?.sent)
    }

    fn send_shares(&mut self, sealed: &[SignedShare]) -> Result<()> {
        let shares: Vec<_> = sealed
            .iter()
            .map(|s| {
                serde_json::json!({
                    "to": s.teller,
                    "sealed": B64.encode(&s.sealed),
                    "signature": s.signature,
                })
            })
            .collect();
        self.post("shares", serde_json::json!({ "shares": shares }))
    }

    fn shares(&mut self) -> Result<Vec<SignedShare>> {
        self.board()?
            .shares
            .into_iter()
            .map(|s| {
                B64.decode(s.sealed.as_bytes())
                    .map(|sealed| SignedShare {
                        teller: s.from,
                        sealed,
                        signature: s.signature,
                    })
                    .map_err(|_| Error::Internal("the server sent a malformed share".into()))
            })
            .collect()
    }

    fn bundle(&mut self) -> Result<(Vec<u8>, String, String)> {
        TallyChannel::bundle(self)
    }
}
