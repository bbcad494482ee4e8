//! The offline verifier on any bundle: the input is split at the first two 0xFF bytes into
//! log, checkpoint and verifier key. It refuses or reports, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0xFF);
    let log = parts.next().unwrap_or_default();
    let checkpoint = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let key = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let _ = strikevote_core::verify::verify_bundle(log, &checkpoint, &key);
    for line in log.split(|&b| b == b'\n') {
        let _ = strikevote_core::entry::Entry::parse(line);
    }
});
