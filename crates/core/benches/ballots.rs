//! What the secret ballot costs, on this machine: sealing a ballot (the server does it for
//! every cast), checking a ballot's proofs on one core and on every core (an auditor's rate),
//! and checking a teller's decryption share. `cargo bench -p strikevote-core --bench ballots`
//! (BENCH_BALLOTS sets how many ballots; default 2,000).

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use strikevote_core::crypto::ballot::{Context, first_invalid, open_proofs, seal, seal_many};
use strikevote_core::crypto::ceremony::run_locally;
use strikevote_core::crypto::tally::{decrypt, sums, verify};
use strikevote_core::crypto::{Ciphertext, TellerParams};

const OPTIONS: usize = 3;

fn main() {
    let n: usize = std::env::var("BENCH_BALLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let params = TellerParams::new(3, 2).expect("3 tellers, 2 needed");
    let mut rng = StdRng::from_entropy();
    let ceremony = run_locally(params, &mut rng).expect("the ceremony runs");
    let teller = ceremony.tellers[0].active().expect("ready");
    let keys = teller.key_set().clone();
    let key = keys.shared_key().clone();

    let election = strikevote_core::ElectionId::new_random();
    let context = Context {
        election: &election,
        local: "600",
    };
    let started = Instant::now();
    let ballots: Vec<_> = (0..n)
        .map(|i| seal(&key, context, OPTIONS, i % OPTIONS, &mut rng).expect("a valid choice"))
        .collect();
    let sealed = started.elapsed();

    let choices: Vec<(Context<'_>, usize)> = (0..n).map(|i| (context, i % OPTIONS)).collect();
    let started = Instant::now();
    let many = seal_many(&key, OPTIONS, &choices).expect("valid choices");
    let sealed_all = started.elapsed();
    assert_eq!(many.len(), n);

    let started = Instant::now();
    let opened: Vec<Vec<Ciphertext>> = ballots
        .iter()
        .map(|b| open_proofs(&key, context, OPTIONS, b).expect("valid"))
        .collect();
    let checked_one = started.elapsed();

    // What the auditor's verifier runs on each batch of ballots: every core.
    let refs: Vec<_> = ballots.iter().map(|b| (context, b)).collect();
    let started = Instant::now();
    assert_eq!(first_invalid(&key, OPTIONS, &refs), None);
    let checked_all = started.elapsed();

    let totals = sums(OPTIONS, opened.iter().map(Vec::as_slice));
    let shares = decrypt(teller, &totals, &mut rng).expect("shares");
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        verify(&keys, 0, &totals, &shares).expect("valid shares");
    }
    let shares_checked = started.elapsed();

    let rate = |count: usize, d: std::time::Duration| count as f64 / d.as_secs_f64();
    let one = rate(n, checked_one);
    let all = rate(n, checked_all);
    println!("ballots ({OPTIONS} options, {n} of them, {cores} cores)");
    println!(
        "  seal + prove, one core:     {:>8.0} ballots/s",
        rate(n, sealed)
    );
    println!(
        "  seal + prove, {cores} cores:      {:>8.0} ballots/s",
        rate(n, sealed_all)
    );
    println!("  verify, one core:           {one:>8.0} ballots/s");
    println!(
        "  verify, {cores} cores:            {all:>8.0} ballots/s ({:.2} × cores × one core)",
        all / (one * cores as f64)
    );
    println!(
        "  decryption-share proofs:    {:>8.0} shares/s",
        rate(rounds * OPTIONS, shares_checked)
    );
    let json = serde_json::to_vec(&ballots[0]).expect("serializes").len();
    println!("  one sealed ballot as JSON:  {json:>8} bytes");
}
