//! Votes open and close themselves at their definition's times, once, whatever the number of
//! instances checking.

use std::time::{Duration, Instant};

use crate::both_backends;
use crate::helpers::*;

/// How long after the test starts its votes' window ends: long enough for two key ceremonies,
/// a roster, tokens and two servers starting on a loaded two-core machine (6 s was not, in CI:
/// the window had ended before the schedule first looked, and the vote never opened).
const WINDOW: Duration = Duration::from_secs(30);

/// Waits (until `deadline`) until the election's state is `state`.
fn wait_for_state(db: &TestDb, id: &str, state: &str, deadline: Instant) {
    while show(db, id)["state"] != state {
        assert!(
            Instant::now() < deadline,
            "election {id} did not become {state}: {}",
            show(db, id)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

both_backends! {
    async fn a_ready_vote_opens_and_closes_itself_once_with_two_instances_checking(db: &TestDb) {
        let window_ends = Instant::now() + WINDOW;
        let closes = (chrono::Utc::now() + WINDOW).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let timed = definition_toml(&[("600", 1)]).replace("closes_at = \"2036-01-01T00:00:00Z\"", &format!("closes_at = \"{closes}\""));
        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "600")]);
        // Its window has begun too, but no token was issued: nobody could vote, it stays a draft.
        let unready = create_election_from(db, &timed);
        run_ceremony(db, &unready);
        sv(db, &["roster", "import", "--election", &unready, &roster]).ok();
        // (Its ceremony last: the helper keeps the latest tellers' files for `decrypt`.)
        let ready = create_election_from(db, &timed);
        run_ceremony(db, &ready);
        sv(db, &["roster", "import", "--election", &ready, &roster]).ok();
        let tokens = issue_tokens(db, &ready);

        let every = [("STRIKEVOTE_SCHEDULE_SECONDS", "1".to_owned())];
        let a = serve_process(db, &["--database-url", &db.url], &every);
        let b = serve_process(db, &["--database-url", &db.url], &every);
        wait_for_state(db, &ready, "open", window_ends);
        let (status, body) = a.app().cast(&tokens[0].1, "yes").await;
        assert_eq!(status, 200, "{body}");
        wait_for_state(db, &ready, "closed", window_ends + Duration::from_secs(20));
        assert_eq!(show(db, &unready)["state"], "draft");
        let logs = a.stop() + &b.stop();
        assert!(logs.contains("scheduled change made"), "{logs}");

        // The same entries as an official's open and close, each once, by "schedule".
        let bundle = export_bundle(db, &ready, "b");
        let entries: Vec<serde_json::Value> = bundle.log.split(|&c| c == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
        let count = |t: &str| entries.iter().filter(|e| e["type"] == t).count();
        assert_eq!((count("open"), count("close")), (1, 1));
        let scheduled: Vec<&str> = entries.iter().filter(|e| e["type"] == "admin" && e["by"] == "schedule").map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(scheduled, ["open", "close"]);
        assert!(strikevote::audit::verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).is_ok());
        // The tellers decrypt as after any close.
        decrypt(db, &ready);
    }
}
