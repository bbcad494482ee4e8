//! The code that seals ballots on members' devices (`src/web/sealing/`, built into
//! `src/web/static/sealing.js`), as this binary serves it, and its names: the SHA-256 the log
//! names it by (`open` and `sealing_code` entries, member-sealed ballots) and the Subresource
//! Integrity value ballot pages load it with. A leaf: the casting path, the lifecycle and the
//! pages all name the code, none through another.

/// The code that seals ballots in members' browsers: built by `src/web/sealing/build.mjs`
/// from `seal.js` and the pinned @noble packages, byte for byte reproducible (a test rebuilds
/// it and compares).
pub const SEALING_CODE: &[u8] = include_bytes!("web/static/sealing.js");

/// SHA-256 of [`SEALING_CODE`], hex: the name of the code that seals ballots, as the log's
/// `open` and `sealing_code` entries and member-sealed ballots name it.
pub fn sealing_code_sha256() -> &'static str {
    use sha2::Digest;
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hex::encode(sha2::Sha256::digest(SEALING_CODE)))
}

/// The sealing code's Subresource Integrity value (`sha256-` and its digest in base64): the
/// ballot page names it, so a browser runs those bytes or none.
pub fn sealing_code_integrity() -> &'static str {
    use base64::Engine;
    use sha2::Digest;
    static SRI: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SRI.get_or_init(|| {
        let digest = sha2::Sha256::digest(SEALING_CODE);
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    })
}
