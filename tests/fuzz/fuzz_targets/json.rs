//! The JSON decoders: the casting body and its checks, and log entries. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut body) = serde_json::from_slice::<strikevote::api::ballot::CastBody>(data) {
        let _ = body.request();
    }
    let _ = serde_json::from_slice::<serde_json::Value>(data);
    let _ = strikevote_core::entry::Entry::parse(data);
});
