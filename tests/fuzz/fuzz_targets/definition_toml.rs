//! The election definition (TOML): any text gives a definition or every problem, never a
//! panic; a definition it accepts survives its own JSON form (what entry 0 freezes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strikevote_core::definition::Definition;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = Definition::from_toml(text) {
        let json = serde_json::to_string(&d).expect("a definition serializes");
        let back: Definition = serde_json::from_str(&json).expect("and reads back");
        assert_eq!(back, d);
        let _ = d.rule_in_words();
        let _ = d.local_time(&d.opens_at);
    }
});
