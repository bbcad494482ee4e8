//! The roster CSV parser: any bytes give rows or a listed refusal, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let locals: std::collections::HashSet<&str> = ["600", "700", "871"].into_iter().collect();
    let _ = strikevote::roster::csv::parse_roster(data, &locals);
});
