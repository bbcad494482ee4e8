//! The member pages' words in every language of `src/web/locales/` (English, Spanish, …).
//! Chosen by `?lang=`, else Accept-Language, else English.

use crate::error::ErrorCode;
use actix_web::HttpRequest;
use actix_web::http::header::ACCEPT_LANGUAGE;

/// A language the pages speak: one file `src/web/locales/<code>.toml` (see build.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lang(&'static Locale);

/// One language's page texts.
#[derive(Debug, PartialEq, Eq)]
pub struct Locale {
    /// The two-letter code, also the file's name.
    code: &'static str,
    /// The language's own name ("Español").
    name: &'static str,
    text: Text,
}

impl Lang {
    /// English, the default.
    pub fn english() -> Lang {
        Lang(&LOCALES[0])
    }

    /// Every language, English first.
    pub fn all() -> impl Iterator<Item = Lang> {
        LOCALES.iter().map(Lang)
    }

    /// The BCP 47 code.
    pub fn code(self) -> &'static str {
        self.0.code
    }

    /// The language's own name.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// `?lang=` (or a form's `lang`) if given and known, else the first supported language of
    /// Accept-Language, else English.
    pub fn pick(explicit: Option<&str>, req: &HttpRequest) -> Lang {
        if let Some(lang) = explicit.and_then(Self::parse) {
            return lang;
        }
        req.headers()
            .get(ACCEPT_LANGUAGE)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| {
                h.split(',')
                    .filter_map(|part| Self::parse(part.split(';').next()?.trim()))
                    .next()
            })
            .unwrap_or_else(Lang::english)
    }

    /// The language of a tag such as `es-MX`, if the pages speak it.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?;
        Self::all().find(|l| l.code().eq_ignore_ascii_case(primary))
    }

    /// The words.
    pub fn text(self) -> &'static Text {
        &self.0.text
    }
}

/// Every sentence the member pages show.
#[derive(Debug, PartialEq, Eq)]
pub struct Text {
    pub site: &'static str,
    pub skip: &'static str,
    pub start_title: &'static str,
    pub start_intro: &'static str,
    pub token_label: &'static str,
    pub token_hint: &'static str,
    pub continue_button: &'static str,
    pub ballot_title: &'static str,
    pub your_local: &'static str,
    pub choose: &'static str,
    pub cast_button: &'static str,
    pub cast_note: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub abstain: &'static str,
    pub done_title: &'static str,
    pub done_intro: &'static str,
    pub receipt_label: &'static str,
    pub tracker_label: &'static str,
    pub tracker_hint: &'static str,
    pub checkpoint_label: &'static str,
    pub position_label: &'static str,
    pub keep_receipt: &'static str,
    pub check_later: &'static str,
    pub status_title: &'static str,
    pub status_intro: &'static str,
    pub check_button: &'static str,
    pub status_not_used: &'static str,
    pub status_used: &'static str,
    pub status_revoked: &'static str,
    pub verify_title: &'static str,
    pub verify_intro: &'static str,
    pub receipt_field: &'static str,
    pub receipt_hint: &'static str,
    pub verify_found: &'static str,
    pub verify_proof_ok: &'static str,
    pub verify_proof_bad: &'static str,
    pub verify_sealed: &'static str,
    pub verify_compare: &'static str,
    pub verify_raw: &'static str,
    pub save_receipt: &'static str,
    pub print_hint: &'static str,
    pub receipt_file_title: &'static str,
    pub err_not_started: &'static str,
    pub err_ended: &'static str,
    pub err_closed_early: &'static str,
    pub see_result: &'static str,
    pub voted_result: &'static str,
    pub err_title: &'static str,
    pub err_token_format: &'static str,
    pub err_token_unknown: &'static str,
    pub err_token_used: &'static str,
    pub err_token_revoked: &'static str,
    pub err_not_open: &'static str,
    pub err_choice_missing: &'static str,
    pub err_choice_invalid: &'static str,
    pub err_form_expired: &'static str,
    pub err_receipt_unknown: &'static str,
    pub err_server: &'static str,
    pub err_storage_full: &'static str,
    pub seal_button: &'static str,
    pub sealed_title: &'static str,
    pub sealed_intro: &'static str,
    pub cast_sealed: &'static str,
    pub check_sealed: &'static str,
    pub check_note: &'static str,
    pub checked_title: &'static str,
    pub checked_intro: &'static str,
    pub checked_wrong: &'static str,
    pub sealed_by_member: &'static str,
    pub sealed_by_server: &'static str,
    pub server_seals_note: &'static str,
    pub member_seals_note: &'static str,
    pub err_invalid_ballot: &'static str,
    pub err_ballot_seen: &'static str,
    pub err_unknown_code: &'static str,
    pub err_challenge_mismatch: &'static str,
    pub err_too_many_checks: &'static str,
    pub check_title: &'static str,
    pub check_intro: &'static str,
    pub check_save: &'static str,
    pub check_download: &'static str,
    pub check_server: &'static str,
    pub check_election: &'static str,
    pub check_tracker: &'static str,
    pub confirm_button: &'static str,
    pub check_held: &'static str,
    pub check_not_held: &'static str,
    pub check_unknown: &'static str,
    pub check_link: &'static str,
    pub links_vote: &'static str,
    pub links_status: &'static str,
    pub links_verify: &'static str,
    pub mail_ballot_subject: &'static str,
    pub mail_ballot_body: &'static str,
    pub mail_reminder_subject: &'static str,
    pub mail_reminder_body: &'static str,
    pub mail_result_subject: &'static str,
    pub mail_result_body: &'static str,
    pub letter_body: &'static str,
    pub letter_code_label: &'static str,
    pub letter_link_label: &'static str,
    pub letter_footer: &'static str,
    pub res_page_title: &'static str,
    pub res_cert_heading: &'static str,
    pub res_certified: &'static str,
    pub res_not_certified: &'static str,
    pub res_election: &'static str,
    pub res_question: &'static str,
    pub res_window: &'static str,
    pub res_window_value: &'static str,
    pub res_rule: &'static str,
    pub res_certified_label: &'static str,
    pub res_certified_value: &'static str,
    pub res_certified_sentence: &'static str,
    pub res_checkpoint: &'static str,
    pub res_in_log: &'static str,
    pub res_origin: &'static str,
    pub res_fingerprint: &'static str,
    pub res_verify: &'static str,
    pub res_tellers: &'static str,
    pub res_download_pdf: &'static str,
    pub res_download_csv: &'static str,
    pub res_download_json: &'static str,
    pub res_caption: &'static str,
    pub res_local: &'static str,
    pub res_eligible: &'static str,
    pub res_cast: &'static str,
    pub res_turnout: &'static str,
    pub res_yes_share: &'static str,
    pub res_local_result: &'static str,
    pub res_delegates: &'static str,
    pub res_in_group: &'static str,
    pub res_needed: &'static str,
    pub res_groups_share: &'static str,
    pub res_reached: &'static str,
    pub res_not_reached: &'static str,
    pub res_all_locals: &'static str,
    pub res_quorum_needed: &'static str,
    pub res_popular_decides: &'static str,
    pub res_popular_info: &'static str,
    pub res_delegates_decides: &'static str,
    pub res_delegates_info: &'static str,
    pub res_popular_line: &'static str,
    pub res_popular_info_line: &'static str,
    pub res_delegates_line: &'static str,
    pub res_delegates_info_line: &'static str,
    pub res_quorum: &'static str,
    pub res_quorum_line: &'static str,
    pub res_quorum_met: &'static str,
    pub res_quorum_missed: &'static str,
    pub res_quorum_none: &'static str,
    pub res_chart_title: &'static str,
    pub res_chart_caption: &'static str,
    pub res_col_abstain: &'static str,
    pub res_col_reached: &'static str,
    pub res_col_delegates: &'static str,
    pub res_teller: &'static str,
    /// The words results are stated in (the locale file's `[words]`).
    pub words: strikevote_core::words::Words,
    /// The other languages, (code, own name), for the language switch.
    pub others: &'static [(&'static str, &'static str)],
}

include!(concat!(env!("OUT_DIR"), "/locales.rs"));

impl Text {
    /// The label of a choice.
    pub fn choice(&self, choice: crate::election::Choice) -> &'static str {
        match choice {
            crate::election::Choice::Yes => self.yes,
            crate::election::Choice::No => self.no,
            crate::election::Choice::Abstain => self.abstain,
        }
    }

    /// The member-facing sentence for an error code.
    pub fn error(&self, code: ErrorCode) -> &'static str {
        match code {
            ErrorCode::TokenFormat => self.err_token_format,
            ErrorCode::TokenUnknown => self.err_token_unknown,
            ErrorCode::TokenUsed => self.err_token_used,
            ErrorCode::TokenRevoked => self.err_token_revoked,
            ErrorCode::ElectionNotOpen => self.err_not_open,
            ErrorCode::ChoiceMissing => self.err_choice_missing,
            ErrorCode::InvalidChoice => self.err_choice_invalid,
            ErrorCode::FormExpired => self.err_form_expired,
            ErrorCode::ReceiptUnknown => self.err_receipt_unknown,
            ErrorCode::StorageFull => self.err_storage_full,
            ErrorCode::InvalidBallot => self.err_invalid_ballot,
            ErrorCode::BallotSeen => self.err_ballot_seen,
            ErrorCode::UnknownSealingCode => self.err_unknown_code,
            ErrorCode::ChallengeMismatch => self.err_challenge_mismatch,
            ErrorCode::TooManyChallenges => self.err_too_many_checks,
            _ => self.err_server,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_english_locale_states_results_in_the_cores_own_words() {
        // The verifier and the CLI use the core's English; the pages must say the same.
        assert_eq!(
            Lang::english().text().words,
            strikevote_core::words::Words::ENGLISH
        );
    }

    #[test]
    fn spanish_thresholds_read_as_spanish_does() {
        use strikevote_core::definition::{Comparison, Fraction};
        let es = Lang::parse("es").expect("Spanish is a locale").text();
        let frac = |num, den, cmp| Fraction { num, den, cmp };
        let words = |f: Fraction| f.in_words_of(&es.words);
        assert_eq!(words(frac(1, 2, Comparison::MoreThan)), "más de la mitad");
        assert_eq!(
            words(frac(2, 3, Comparison::AtLeast)),
            "al menos dos tercios"
        );
        assert_eq!(words(frac(3, 4, Comparison::AtLeast)), "al menos el 75%");
        assert_eq!(words(frac(5, 7, Comparison::MoreThan)), "más del 71.42%");
    }
}
