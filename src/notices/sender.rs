//! The sender: one thread per instance that claims due messages from the outbox, makes the
//! ballot tokens of a batch at the moment it sends them ([`crate::token::store::mint_for_messages`]),
//! hands each message to the SMTP server at the configured pace, and records how it fared.
//!
//! What a crash can do, exactly: a message is marked sent only after the SMTP server accepted
//! it. Killed between the two, the message stays `sending` until its lease runs out; then a
//! sender sends it again with a fresh token, and the first token dies (the log counts the new
//! one as the outbox's `tokens_reissue`). So a member may get the same notice twice, the
//! first link dead — never a message lost, and never two live links.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

use diesel::prelude::*;

use super::outbox::{self, Claimed, Outcome};
use super::smtp::{self, Handed, MailServer};
use super::texts;
use crate::db::schema::members;
use crate::db::{DbConnection, Pool};
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::roster::StoredMember;
use crate::token::store::{IssuedToken, MessageTo};
use crate::web::i18n::Lang;

/// Messages claimed at once.
const BATCH: i64 = 25;
/// How often the sender looks for reminders whose time has come.
const REMINDER_CHECK: Duration = Duration::from_secs(20);
/// How long the sender rests when nothing is due.
const IDLE: Duration = Duration::from_millis(500);

/// The running sender: dropping it (or [`SenderHandle::stop`]) ends the thread after the
/// message in hand.
pub struct SenderHandle {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SenderHandle {
    /// Asks the thread to stop after the message in hand.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }
}

impl Drop for SenderHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Sender {
    pool: Pool,
    signer: Arc<LogKey>,
    server: MailServer,
    instance: String,
    stop: Arc<AtomicBool>,
    /// When the next message may go by this instance's own clock: the pace of
    /// `mail_per_minute` when the shared one ([`super::pace`]) cannot be read.
    next_slot: Instant,
    /// When the lease on the batch in hand runs out: a message whose turn comes later is
    /// given back unsent (another instance may hold it by then).
    lease_end: Instant,
}

/// Starts the sender thread.
pub fn start(pool: Pool, signer: Arc<LogKey>, server: MailServer) -> std::io::Result<SenderHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut sender = Sender {
        pool,
        signer,
        server,
        instance: uuid::Uuid::new_v4().to_string(),
        stop: stop.clone(),
        next_slot: Instant::now(),
        lease_end: Instant::now(),
    };
    let thread = std::thread::Builder::new()
        .name("mail-sender".into())
        .spawn(move || sender.run())?;
    Ok(SenderHandle {
        stop,
        thread: Some(thread),
    })
}

impl Sender {
    fn run(&mut self) {
        let transport = match self.server.transport() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "the SMTP transport cannot be built; nothing is sent");
                return;
            }
        };
        tracing::info!(server = %self.server.server_shown(), instance = %self.instance, "mail sender started");
        let mut reminders_checked: Option<Instant> = None;
        while !self.stop.load(Ordering::SeqCst) {
            if reminders_checked.is_none_or(|t| t.elapsed() >= REMINDER_CHECK) {
                reminders_checked = Some(Instant::now());
                self.queue_reminders();
            }
            match self.round(&transport) {
                Ok(0) => std::thread::sleep(IDLE),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the mail sender's round failed; trying again");
                    std::thread::sleep(IDLE * 4);
                }
            }
        }
    }

    /// Queues the reminders whose time has come (several instances may: each round is queued
    /// once, the outbox's unique key sees to it).
    fn queue_reminders(&self) {
        let queued = self
            .pool
            .get()
            .map_err(Error::from)
            .and_then(|mut conn| outbox::queue_due_reminders(&mut conn));
        match queued {
            Ok(rounds) => {
                for (election, round, q) in rounds {
                    tracing::info!(%election, round, queued = q.queued, "reminders queued");
                }
            }
            Err(e) => tracing::warn!(error = %e, "the reminder check failed; trying again"),
        }
    }

    /// Claims a batch and sends it; returns how many messages it held.
    fn round(&mut self, transport: &lettre::SmtpTransport) -> Result<usize> {
        let mut conn = self.pool.get().map_err(Error::from)?;
        let lease = chrono::Duration::from_std(self.server.lease)
            .map_err(|e| Error::Internal(format!("mail lease: {e}")))?;
        self.lease_end = Instant::now() + self.server.lease;
        let claimed = outbox::claim(&mut conn, &self.instance, lease, self.batch())?;
        let n = claimed.len();
        let mut by_election: HashMap<String, Vec<Claimed>> = HashMap::new();
        for c in claimed {
            by_election
                .entry(c.election_id.clone())
                .or_default()
                .push(c);
        }
        for (eid, messages) in by_election {
            self.send_election(&mut conn, transport, &eid, messages)?;
        }
        Ok(n)
    }

    fn send_election(
        &mut self,
        conn: &mut DbConnection,
        transport: &lettre::SmtpTransport,
        eid: &str,
        messages: Vec<Claimed>,
    ) -> Result<()> {
        let id = ElectionId::parse(eid)
            .map_err(|_| Error::Internal(format!("outbox row for election `{eid}`")))?;
        let election = election::find(conn, id)?;
        let rows: Vec<&str> = messages.iter().map(|m| m.member.as_str()).collect();
        let members: HashMap<String, StoredMember> = members::table
            .filter(members::id.eq_any(&rows))
            .select(StoredMember::as_select())
            .load(conn)?
            .into_iter()
            .map(|m| (m.row_id.clone(), m))
            .collect();
        let minted = self.mint(conn, id, &messages)?;
        let fingerprint = crate::log::note::fingerprint(&self.signer.public_key());
        let from = self.server.from.clone();
        let union = self.server.union.clone();
        let fallback_contact = from.email.to_string();
        for message in &messages {
            let Some(member) = members.get(&message.member) else {
                continue;
            };
            let token = match (message.kind.carries_token(), minted.get(&message.id)) {
                (false, _) => None,
                (true, Some(Ok(Some(issued)))) => Some(issued),
                (true, Some(Ok(None))) => {
                    self.finish(conn, message, Outcome::Skipped("voted"))?;
                    continue;
                }
                (true, Some(Err(why))) => {
                    self.finish(conn, message, Outcome::Skipped(why))?;
                    continue;
                }
                (true, None) => continue,
            };
            let lang = member
                .language
                .as_deref()
                .and_then(Lang::parse)
                .unwrap_or_else(Lang::english);
            let name = if member.name.trim().is_empty() {
                member.member_id.as_str()
            } else {
                member.name.as_str()
            };
            let facts = texts::Facts {
                election: &election,
                union: &union,
                fallback_contact: &fallback_contact,
                name,
                link: token.map(|t| t.ballot_url.as_str()),
                fingerprint: &fingerprint,
            };
            let letter = texts::compose(message.kind, lang, &facts);
            let message_id = super::bounces::message_id(&message.id, from.email.domain());
            let to = (member.name.as_str(), member.email.as_str());
            let mail = texts::message(&from, to, &letter, message_id);
            let outcome = self.hand_over(conn, transport, mail, message, id)?;
            // A link the SMTP server did not take reaches nobody: it dies now, and a member
            // whose message failed for good can be sent a letter.
            if let (Some(issued), false) = (token, outcome == Outcome::Sent) {
                crate::token::store::revoke_undelivered(conn, &issued.token)?;
            }
            self.finish(conn, message, outcome)?;
        }
        Ok(())
    }

    /// Hands `mail` to the SMTP server at the configured pace; how it fared. `None`: the
    /// roster's address is not one an SMTP server takes.
    fn hand_over(
        &mut self,
        conn: &mut DbConnection,
        transport: &lettre::SmtpTransport,
        mail: Option<lettre::Message>,
        message: &Claimed,
        id: ElectionId,
    ) -> Result<Outcome> {
        let Some(mail) = mail else {
            return Ok(Outcome::Failed(
                "the roster's email address is not one an SMTP server takes".to_owned(),
            ));
        };
        if !self.pace(conn, message)? {
            return Ok(Outcome::Lost);
        }
        let outcome = match smtp::hand_over(transport, &mail) {
            Handed::Accepted => Outcome::Sent,
            Handed::Refused(said) => Outcome::Bounced(said),
            Handed::NotNow(said) => Outcome::Later(said, outbox::backoff(message.attempts)),
        };
        crate::error::failpoint("mail::handed", &id)?;
        Ok(outcome)
    }

    /// The tokens of the batch's ballot notices and reminders, made now. A vote that closed
    /// meanwhile skips them all.
    #[allow(clippy::type_complexity)]
    fn mint(
        &self,
        conn: &mut DbConnection,
        id: ElectionId,
        messages: &[Claimed],
    ) -> Result<HashMap<String, std::result::Result<Option<IssuedToken>, &'static str>>> {
        let wanted: Vec<MessageTo> = messages
            .iter()
            .filter(|m| m.kind.carries_token())
            .map(|m| MessageTo {
                message: m.id.clone(),
                member: m.member.clone(),
            })
            .collect();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        match crate::token::store::mint_for_messages(conn, id, &self.signer, &wanted) {
            Ok(minted) => Ok(minted.into_iter().map(|(m, t)| (m, Ok(t))).collect()),
            Err(e) if e.code() == ErrorCode::ElectionClosed => Ok(wanted
                .into_iter()
                .map(|m| (m.message, Err("the vote closed before it was sent")))
                .collect()),
            Err(e) => Err(e),
        }
    }

    fn finish(&self, conn: &mut DbConnection, message: &Claimed, outcome: Outcome) -> Result<()> {
        let kept = outbox::finish(conn, message, &self.instance, outcome)?;
        if !kept {
            tracing::warn!(message = %message.id, "a message's claim ran out before it was recorded");
        }
        Ok(())
    }

    /// How many messages to claim at once: no more than half of what `mail_per_minute` lets go
    /// within the lease, so a batch is sent before its claim runs out.
    fn batch(&self) -> i64 {
        let in_lease = self.server.lease.as_secs() * u64::from(self.server.per_minute) / 60 / 2;
        i64::try_from(in_lease).unwrap_or(BATCH).clamp(1, BATCH)
    }

    /// Waits for this message's turn under `mail_per_minute`, shared with every instance
    /// sending through the same server. A turn that comes too late for the batch's lease (a
    /// quarter of it kept for the SMTP answer) first extends this message's lease past it;
    /// `false` when the claim was lost meanwhile: another sender holds the message, and it is
    /// not sent from here.
    fn pace(&mut self, conn: &mut DbConnection, message: &Claimed) -> Result<bool> {
        let gap = Duration::from_secs(60) / self.server.per_minute.max(1);
        let shared = super::pace::take_slot(conn, &self.server.server_shown(), gap, Utc::now());
        let wait = match shared {
            Ok(slot) => (slot - Utc::now()).to_std().unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "the shared mail pace cannot be read: pacing alone");
                let now = Instant::now();
                let at = self.next_slot.max(now);
                self.next_slot = at + gap;
                at - now
            }
        };
        if Instant::now() + wait + self.server.lease / 4 > self.lease_end {
            let until = chrono::Duration::from_std(wait + self.server.lease)
                .map_err(|e| Error::Internal(format!("mail lease: {e}")))?;
            if !outbox::renew(conn, message, &self.instance, Utc::now() + until)? {
                return Ok(false);
            }
        }
        std::thread::sleep(wait);
        Ok(true)
    }
}
