//! The pace of `mail_per_minute`, kept by every instance together. One row per SMTP server
//! holds when its next message may go; a sender takes the next slot with a compare-and-set
//! (the later of now and that time, and moves it on by one gap), then waits for it. However
//! many instances send through one server, it sees at most `mail_per_minute` messages a
//! minute, evenly spaced — the instances' clocks agreeing (NTP), as the leases already need.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::mail_pace;
use crate::error::{Error, Result};

/// Compare-and-set tries before giving up (each loses only to another instance's success).
const TRIES: usize = 64;

/// The time at which the next message to `server` may go, `now` or later, taken for the
/// caller: the server's next slot moves on by `gap`.
pub fn take_slot(
    conn: &mut DbConnection,
    server: &str,
    gap: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let gap = i64::try_from(gap.as_micros()).unwrap_or(i64::MAX);
    for _ in 0..TRIES {
        let found: Option<i64> = mail_pace::table
            .find(server)
            .select(mail_pace::next_at)
            .first(conn)
            .optional()?;
        let Some(next) = found else {
            // The server's first message: its row, made once by whichever instance comes first.
            let row = (mail_pace::server.eq(server), mail_pace::next_at.eq(0i64));
            crate::on_backend!(conn, |c| diesel::insert_into(mail_pace::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c))?;
            continue;
        };
        let slot = next.max(now.timestamp_micros());
        let taken = diesel::update(
            mail_pace::table
                .filter(mail_pace::server.eq(server))
                .filter(mail_pace::next_at.eq(next)),
        )
        .set(mail_pace::next_at.eq(slot.saturating_add(gap)))
        .execute(conn)?;
        if taken == 1 {
            return DateTime::from_timestamp_micros(slot)
                .ok_or_else(|| Error::Internal(format!("mail pace slot {slot} µs")));
        }
    }
    Err(Error::Internal(format!(
        "the mail pace of {server} was taken {TRIES} times in a row by other instances"
    )))
}
