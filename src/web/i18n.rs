//! The member pages' words, in English and Spanish. Chosen by `?lang=`, else Accept-Language.

use crate::error::ErrorCode;
use actix_web::HttpRequest;
use actix_web::http::header::ACCEPT_LANGUAGE;

/// A supported language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// The BCP 47 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
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
            .unwrap_or(Lang::En)
    }

    fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            _ => None,
        }
    }

    /// The words.
    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Es => &ES,
        }
    }
}

/// Every sentence the member pages show.
pub struct Text {
    pub site: &'static str,
    pub other_lang_code: &'static str,
    pub other_lang_name: &'static str,
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
    pub save_receipt: &'static str,
    pub print_hint: &'static str,
    pub receipt_file_title: &'static str,
    pub err_not_started: &'static str,
    pub err_ended: &'static str,
    pub see_result: &'static str,
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
    pub links_vote: &'static str,
    pub links_status: &'static str,
    pub links_verify: &'static str,
}

static EN: Text = Text {
    site: "Union vote",
    other_lang_code: "es",
    other_lang_name: "Español",
    skip: "Skip to content",
    start_title: "Vote",
    start_intro: "Type the ballot token from your ballot notice. It starts with SV.",
    token_label: "Ballot token",
    token_hint: "Example: SV-7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE. Capitals, spaces and dashes do not matter.",
    continue_button: "Continue to the ballot",
    ballot_title: "Your ballot",
    your_local: "Your local",
    choose: "Choose one",
    cast_button: "Cast my vote",
    cast_note: "Your vote is secret. It is encrypted before it is stored, never with your name or token, and it can only be counted together with everyone else's, by the election's tellers, after voting closes. You cannot change it once cast.",
    yes: "Yes",
    no: "No",
    abstain: "Abstain",
    done_title: "Your vote is recorded",
    done_intro: "Thank you. Your ballot was encrypted and added to the election's public, signed log. Nobody can read it on its own: after voting closes, the tellers open only the totals.",
    receipt_label: "Your receipt",
    tracker_label: "Ballot tracker",
    tracker_hint: "A fingerprint of your encrypted ballot, shown beside it in the public log. It does not show your choice.",
    checkpoint_label: "Included in checkpoint",
    position_label: "Position in the log",
    keep_receipt: "Write down or save your receipt. With it you can check that your ballot is in the log. It does not show how you voted, and nobody, not even the officials running the vote, can read your ballot on its own.",
    check_later: "Check later that your ballot is in the log",
    status_title: "Has my token been used?",
    status_intro: "If your token shows as used and you did not vote, contact your election officials at once.",
    check_button: "Check",
    status_not_used: "This token has not been used.",
    status_used: "This token has been used to vote. If you did not vote, contact your election officials.",
    status_revoked: "This token was replaced by a newer one and can no longer vote.",
    verify_title: "Check my receipt",
    verify_intro: "Type the receipt you were given when you voted.",
    receipt_field: "Receipt",
    receipt_hint: "Seven groups of four letters and digits, for example 7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE.",
    verify_found: "Your ballot is in the log.",
    verify_proof_ok: "Its inclusion proof checks out against the latest signed checkpoint.",
    verify_proof_bad: "Its inclusion proof does NOT check out. Report this to the election auditors.",
    verify_sealed: "Your ballot is encrypted, so this page cannot show your choice, and nor can anyone else. It is counted when the tellers open the totals after voting closes.",
    save_receipt: "Save my receipt as a file",
    print_hint: "You can also print this page or take a screenshot: nothing on it shows how you voted. This page is shown only once.",
    receipt_file_title: "Your ballot receipt",
    err_not_started: "Voting has not started yet. It opens on {date}.",
    err_ended: "Voting has ended. It closed on {date}.",
    see_result: "The certified result is published: see the result",
    err_title: "There is a problem",
    err_token_format: "That does not look like a ballot token. A token starts with SV followed by 28 letters and digits.",
    err_token_unknown: "We do not know this ballot token. Check it against your ballot notice.",
    err_token_used: "This ballot token has already been used to vote. If you did not vote, contact your election officials.",
    err_token_revoked: "This ballot token was replaced by a newer one. Use the token from your most recent notice.",
    err_not_open: "Voting is not open for this election right now.",
    err_choice_missing: "Choose one option before casting your vote.",
    err_choice_invalid: "That choice is not on this ballot.",
    err_form_expired: "This form has expired. Please open the page again and retry.",
    err_receipt_unknown: "No ballot with this receipt is in the log. Check the receipt and try again.",
    err_server: "The server could not record your vote. Nothing was recorded; please try again.",
    links_vote: "Vote",
    links_status: "Token status",
    links_verify: "Check a receipt",
};

static ES: Text = Text {
    site: "Votación sindical",
    other_lang_code: "en",
    other_lang_name: "English",
    skip: "Ir al contenido",
    start_title: "Votar",
    start_intro: "Escriba el código de votación de su aviso. Empieza con SV.",
    token_label: "Código de votación",
    token_hint: "Ejemplo: SV-7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE. Mayúsculas, espacios y guiones no importan.",
    continue_button: "Ir a la papeleta",
    ballot_title: "Su papeleta",
    your_local: "Su local",
    choose: "Elija una opción",
    cast_button: "Emitir mi voto",
    cast_note: "Su voto es secreto. Se cifra antes de guardarse, nunca junto a su nombre ni a su código, y solo puede contarse junto con los demás, por los escrutadores de la elección, después del cierre. No se puede cambiar una vez emitido.",
    yes: "Sí",
    no: "No",
    abstain: "Abstención",
    done_title: "Su voto quedó registrado",
    done_intro: "Gracias. Su papeleta se cifró y se añadió al registro público y firmado de la elección. Nadie puede leerla por separado: después del cierre, los escrutadores abren solo los totales.",
    receipt_label: "Su comprobante",
    tracker_label: "Huella de la papeleta",
    tracker_hint: "Una huella de su papeleta cifrada, que aparece junto a ella en el registro público. No muestra su opción.",
    checkpoint_label: "Incluida en el punto de control",
    position_label: "Posición en el registro",
    keep_receipt: "Anote o guarde su comprobante. Con él puede comprobar que su papeleta está en el registro. No muestra cómo votó, y nadie, ni siquiera quienes administran la votación, puede leer su papeleta por separado.",
    check_later: "Compruebe más tarde que su papeleta está en el registro",
    status_title: "¿Se ha usado mi código?",
    status_intro: "Si su código aparece como usado y usted no votó, avise de inmediato a los responsables de la elección.",
    check_button: "Comprobar",
    status_not_used: "Este código no se ha usado.",
    status_used: "Este código ya se usó para votar. Si usted no votó, avise a los responsables de la elección.",
    status_revoked: "Este código fue reemplazado por uno nuevo y ya no sirve para votar.",
    verify_title: "Comprobar mi comprobante",
    verify_intro: "Escriba el comprobante que recibió al votar.",
    receipt_field: "Comprobante",
    receipt_hint: "Siete grupos de cuatro letras y cifras, por ejemplo 7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE.",
    verify_found: "Su papeleta está en el registro.",
    verify_proof_ok: "Su prueba de inclusión es correcta frente al último punto de control firmado.",
    verify_proof_bad: "Su prueba de inclusión NO es correcta. Avise a los auditores de la elección.",
    verify_sealed: "Su papeleta está cifrada: esta página no puede mostrar su opción, ni nadie más. Se cuenta cuando los escrutadores abren los totales después del cierre.",
    save_receipt: "Guardar mi comprobante en un archivo",
    print_hint: "También puede imprimir esta página o hacer una captura de pantalla: nada en ella muestra cómo votó. Esta página se muestra una sola vez.",
    receipt_file_title: "Su comprobante de votación",
    err_not_started: "La votación aún no ha empezado. Se abre el {date}.",
    err_ended: "La votación ha terminado. Se cerró el {date}.",
    see_result: "El resultado certificado está publicado: ver el resultado",
    err_title: "Hay un problema",
    err_token_format: "Eso no parece un código de votación. Un código empieza con SV seguido de 28 letras y cifras.",
    err_token_unknown: "No conocemos este código de votación. Compárelo con su aviso.",
    err_token_used: "Este código ya se usó para votar. Si usted no votó, avise a los responsables de la elección.",
    err_token_revoked: "Este código fue reemplazado por uno nuevo. Use el código de su aviso más reciente.",
    err_not_open: "La votación de esta elección no está abierta ahora.",
    err_choice_missing: "Elija una opción antes de emitir su voto.",
    err_choice_invalid: "Esa opción no está en esta papeleta.",
    err_form_expired: "Este formulario caducó. Abra la página de nuevo e inténtelo otra vez.",
    err_receipt_unknown: "No hay ninguna papeleta con este comprobante en el registro. Revíselo e inténtelo de nuevo.",
    err_server: "El servidor no pudo registrar su voto. No se registró nada; inténtelo de nuevo.",
    links_vote: "Votar",
    links_status: "Estado del código",
    links_verify: "Comprobar un comprobante",
};

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
            _ => self.err_server,
        }
    }
}
