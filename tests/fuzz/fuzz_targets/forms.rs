//! The form decoder (application/x-www-form-urlencoded, as actix's `Form` reads it) into the
//! member and builder forms, and the builder's whole path to a definition; the token and
//! receipt parsers on what was typed. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_urlencoded::from_bytes::<strikevote::web::member::VoteForm>(data);
    if let Ok(form) = serde_urlencoded::from_bytes::<strikevote::web::builder::BuilderForm>(data) {
        let _ = strikevote::web::builder::definition_of(&form);
    }
    let typed = String::from_utf8_lossy(data);
    let _ = strikevote::token::PlainToken::parse(&typed);
    let _ = strikevote::token::parse_receipt(&typed);
});
