//! The ceremony over HTTPS, for a teller on their own machine: every request carries the
//! teller's invitation code. The teller replays the ceremony's log entries itself, so a
//! server that lied about them would be caught by the same rules the verifier applies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use strikevote_core::crypto::TellerParams;
use strikevote_core::crypto::ceremony::Record;

use strikevote_core::ElectionId;
use strikevote_core::entry::{Entry, NewEntry, TallyShare};

use crate::ceremony::{Channel, SignedShare};
use crate::decrypt::{Status, TallyChannel};
use crate::error::{Error, Kind, Result, code};

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

    /// The server's answer, or its JSON error as this crate's (its code kept).
    fn answer(result: std::result::Result<ureq::Response, ureq::Error>) -> Result<ureq::Response> {
        match result {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(status, response)) => {
                let body = response.into_json::<serde_json::Value>().ok();
                let said = |k: &str| body.as_ref().and_then(|v| v[k].as_str()).map(str::to_owned);
                let message =
                    said("message").unwrap_or_else(|| format!("the server answered {status}"));
                let (kind, fallback) = match status {
                    401 | 403 => (Kind::Unauthorized, code::UNAUTHORIZED),
                    404 => (Kind::NotFound, code::INTERNAL),
                    400 => (Kind::BadInput, code::CEREMONY_REFUSED),
                    409 => (Kind::Conflict, code::CEREMONY_REFUSED),
                    _ => (Kind::Internal, code::INTERNAL),
                };
                let code = said("error").unwrap_or_else(|| fallback.to_owned());
                Err(Error::new(kind, &code, message))
            }
            Err(e) => Err(Error::internal(format!("cannot reach the server: {e}"))),
        }
    }

    fn board(&self) -> Result<Board> {
        let request = self
            .agent
            .get(&format!("{}/board", self.base))
            .set("Authorization", &format!("Teller {}", self.code));
        Self::answer(request.call())?
            .into_json()
            .map_err(|e| Error::internal(format!("the server's answer is unreadable: {e}")))
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
            .map_err(|e| Error::internal(format!("the server's answer is unreadable: {e}")))
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
            .ok_or_else(|| Error::internal("the server's checkpoint is malformed"))?;
        let mut log = Vec::new();
        let mut next = 0u64;
        while next < size {
            let page = self.text(&format!("entries?start={next}&end={size}"))?;
            let lines = page.lines().count() as u64;
            if lines == 0 {
                return Err(Error::internal(format!("the server's log ends at {next}")));
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
            .map_err(|e| Error::internal(format!("the server's answer is unreadable: {e}")))?;
        serde_json::from_value(answer["decryption"].clone())
            .map_err(|e| Error::internal(format!("the server's answer is unreadable: {e}")))
    }
}

impl Channel for Remote {
    fn params(&mut self) -> Result<TellerParams> {
        let t = self.board()?.tellers;
        TellerParams::new(t.count, t.threshold).map_err(|e| Error::internal(e.to_string()))
    }

    fn record(&mut self) -> Result<Record> {
        let board = self.board()?;
        let params = TellerParams::new(board.tellers.count, board.tellers.threshold)
            .map_err(|e| Error::internal(e.to_string()))?;
        let mut record = Record::new(self.id, params);
        for text in &board.entries {
            let entry = Entry::parse(text.as_bytes())
                .map_err(|e| Error::internal(format!("the server sent a malformed entry: {e}")))?;
            record.add(&entry.body).map_err(|e| {
                Error::conflict(
                    code::CEREMONY_REFUSED,
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
                    .map_err(|_| Error::internal("the server sent a malformed share"))
            })
            .collect()
    }

    fn bundle(&mut self) -> Result<(Vec<u8>, String, String)> {
        TallyChannel::bundle(self)
    }
}
