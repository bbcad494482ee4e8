//! Scale benchmark for the foundation: an IATSE-sized election (36 locals, 60,000 members)
//! created, its roster imported, the letters by post printed for the tenth of the members with
//! no email address (one PDF, a page each) and every other member's token issued, through the
//! real CLI, on SQLite and on PostgreSQL. Prints wall-clock seconds per step and the PDF's
//! size; asserts nothing about time.
//!
//! Run: `cargo bench --bench roster_scale` (PostgreSQL from STRIKEVOTE_TEST_POSTGRES_URL,
//! default postgres://postgres@127.0.0.1:5432/postgres; set BENCH_MEMBERS to change the size).

mod common;

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{LOCALS, definition_toml, psql};

fn main() {
    let members: usize = std::env::var("BENCH_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let definition = dir.path().join("election.toml");
    std::fs::write(
        &definition,
        definition_toml("2026-10-01T07:00:00Z", "2026-10-04T07:00:00Z"),
    )
    .expect("write definition");
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, roster_csv(members)).expect("write roster");

    println!("roster_scale: {LOCALS} locals, {members} members");
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    run("sqlite", &sqlite, dir.path(), &definition, &roster);

    let admin = std::env::var("STRIKEVOTE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("sv_bench_{}", uuid::Uuid::new_v4().simple());
    psql(&admin, &format!("CREATE DATABASE {name}"));
    let (base, _) = admin.rsplit_once('/').expect("URL with a database");
    run(
        "postgres",
        &format!("{base}/{name}"),
        dir.path(),
        &definition,
        &roster,
    );
    psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
}

fn run(
    label: &str,
    url: &str,
    dir: &std::path::Path,
    definition: &std::path::Path,
    roster: &std::path::Path,
) {
    let started = Instant::now();
    let (id, create) = timed(
        url,
        dir,
        &[
            "election",
            "create",
            "--file",
            path(definition),
            "--public-url",
            "http://localhost:8080",
        ],
    );
    let id = id.trim().to_owned();
    let (_, import) = timed(
        url,
        dir,
        &["roster", "import", "--election", &id, path(roster)],
    );
    let letters = dir.join(format!("letters-{label}.pdf"));
    let (_, print) = timed(
        url,
        dir,
        &[
            "notices",
            "letters",
            "--election",
            &id,
            "--out",
            path(&letters),
        ],
    );
    let pdf_bytes = std::fs::metadata(&letters).map_or(0, |m| m.len());
    let out = dir.join(format!("tokens-{label}.csv"));
    let (_, issue) = timed(
        url,
        dir,
        &["tokens", "issue", "--election", &id, "--out", path(&out)],
    );
    let total = started.elapsed();
    println!(
        "{label:>8}: create {:.2}s  import {:.2}s  letters {:.2}s ({:.1} MB)  issue {:.2}s  total {:.2}s",
        create.as_secs_f64(),
        import.as_secs_f64(),
        print.as_secs_f64(),
        pdf_bytes as f64 / 1e6,
        issue.as_secs_f64(),
        total.as_secs_f64()
    );
}

fn timed(url: &str, dir: &std::path::Path, args: &[&str]) -> (String, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_strikevote"))
        .args(args)
        .args(["--database-url", url])
        .current_dir(dir)
        .output()
        .expect("run strikevote");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), elapsed)
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn roster_csv(members: usize) -> String {
    let mut text = String::from("member_id,local,name,email,address\n");
    for i in 0..members {
        // Uneven locals, as in real unions: local k gets a share proportional to k+1.
        let local = (i * i) % LOCALS;
        // One member in ten has no email address: their ballot goes by post.
        let email = if i % 10 == 0 {
            String::new()
        } else {
            format!("member{i}@example.org")
        };
        let _ = writeln!(
            text,
            "M{i:06},L{local},\"Member {i}, Jr.\",{email},\"{i} Elm St\nSpringfield, IL 62704\""
        );
    }
    text
}
