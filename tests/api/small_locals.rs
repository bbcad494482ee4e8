//! Small locals (issue 19, item 4): no total of fewer than the definition's `min_ballots`
//! ballots is ever decrypted. Locals under it are counted together as one group, the tellers
//! form the totals themselves from the log they checked, and a vote too small to open is never
//! decrypted — whatever the server asks.

use strikevote::election::Choice;

use crate::both_backends;
use crate::helpers::*;
use crate::interop::python_verify;

/// An election at the default minimum (5) with locals 600 (10 members), 700 (3), 871 (2) and
/// 80 (2), its ceremony run and tokens issued; returns the id, the tokens by local, and what
/// `roster import` printed.
fn small_election(db: &TestDb) -> (String, Vec<(String, String)>, String) {
    small_election_with(db, |text| text)
}

/// [`small_election`], its definition changed by `change`.
fn small_election_with(
    db: &TestDb,
    change: impl FnOnce(String) -> String,
) -> (String, Vec<(String, String)>, String) {
    let text = definition_toml(&[("600", 50), ("700", 30), ("871", 20), ("80", 10)])
        .replace("small_locals = { min_ballots = 1 }\n", "");
    let id = create_election_from(db, &change(text));
    run_ceremony(db, &id);
    let mut members = Vec::new();
    for (local, n) in [("600", 10), ("700", 3), ("871", 2), ("80", 2)] {
        for k in 0..n {
            members.push((format!("M{local}-{k}"), local));
        }
    }
    let pairs: Vec<(&str, &str)> = members.iter().map(|(m, l)| (m.as_str(), *l)).collect();
    let roster = write_roster(db, "roster.csv", &pairs);
    let imported = sv(db, &["roster", "import", "--election", &id, &roster]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let tokens = issue_tokens(db, &id);
    let by_local = tokens
        .into_iter()
        .map(|(member, token)| {
            (
                member
                    .trim_start_matches('M')
                    .split('-')
                    .next()
                    .unwrap()
                    .to_owned(),
                token,
            )
        })
        .collect();
    (id, by_local, imported.stderr)
}

/// Casts `choices` in `local` with its members' tokens, in order.
fn cast_in(db: &TestDb, tokens: &[(String, String)], local: &str, choices: &[Choice]) {
    let mine = tokens.iter().filter(|(l, _)| l == local).map(|(_, t)| t);
    for (token, choice) in mine.zip(choices) {
        cast_choice(db, token, *choice);
    }
}

both_backends! {
    async fn small_locals_are_counted_together_and_never_opened_alone(db: &TestDb) {
        use Choice::{No, Yes};
        let (id, tokens, warned) = small_election(db);
        assert!(warned.contains("Locals 700, 871, 80 have fewer than 5 eligible members: their totals are never decrypted alone"), "{warned}");
        sv(db, &["election", "open", &id]).ok();
        cast_in(db, &tokens, "600", &[Yes, Yes, Yes, Yes, Yes, No]);
        cast_in(db, &tokens, "700", &[Yes, Yes, No]);
        cast_in(db, &tokens, "871", &[Yes, No]);
        sv(db, &["election", "close", &id]).ok();

        // The teller says which locals go together before it sends anything.
        let said = decrypt(db, &id);
        assert!(said.contains("Locals with fewer than 5 ballots are counted together as `small-locals`: 700, 871 (5 ballots); every total opened covers at least 5 ballots"), "{said}");

        // The shares and the result open 600 alone and 700 + 871 together; 80 had no ballot.
        let bundle = export_bundle(db, &id, "bundle");
        let log = String::from_utf8(bundle.log).unwrap();
        let entry = |kind: &str| -> serde_json::Value {
            let line = log.lines().find(|l| l.contains(&format!("\"type\":\"{kind}\""))).unwrap();
            serde_json::from_str(line).unwrap()
        };
        let share = entry("tally_share");
        let keys: Vec<&String> = share["shares"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["600", "small-locals"]);
        let result = entry("result");
        assert_eq!(result["locals"]["871"], serde_json::json!({"eligible": 2, "cast": 2, "group": "small-locals", "delegates_yes": 0, "delegates_no": 20, "passed": false}));
        assert_eq!(result["group"], serde_json::json!({"code": "small-locals", "locals": ["700", "871"], "eligible": 5, "yes": 3, "no": 2, "abstain": 0, "passed": false}));
        assert_eq!(result["locals"]["80"]["yes"], 0);

        let results: serde_json::Value = serde_json::from_str(&sv(db, &["results", &id, "--json"]).ok()).unwrap();
        assert_eq!(results["locals"][0]["counts"], serde_json::json!({"yes": 5, "no": 1, "abstain": 0}));
        assert_eq!(results["locals"][1]["counts"], serde_json::Value::Null);
        assert_eq!(results["locals"][1]["group"], "small-locals");
        assert_eq!(results["group"]["authorization"], serde_json::json!({"part": 3, "whole": 5}));
        assert_eq!(results["popular"]["counts"], serde_json::json!({"yes": 8, "no": 3, "abstain": 0}));
        // 600 passes (83%), the group does not (60% < 75%): 50 of 110 delegates.
        assert_eq!((results["delegates"]["yes"].as_u64(), results["delegates"]["no"].as_u64()), (Some(50), Some(60)));
        let text = sv(db, &["results", &id]).ok();
        assert!(text.contains("Small locals together (2 locals counted together): 60.00% yes, at least 75% needed."), "{text}");
        assert!(text.contains("Locals 700, 871 had too few ballots to be counted alone"), "{text}");

        // Pages and the CSV show no count of a merged local.
        let app = spawn_app(db).await;
        let (status, page) = app.get(&format!("/elections/{id}/result")).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("counted with the small locals"), "{page}");
        assert!(page.contains("Small locals together (700, 871)"), "{page}");
        official(db, "carol", "admin");
        let carol = signed_in(&app, "carol").await;
        let (_, dashboard) = get(&carol, &format!("{}/admin/elections/{id}", app.address)).await;
        assert!(dashboard.contains("Locals 700, 871, 80 have fewer than 5 eligible members"), "{dashboard}");
        assert!(dashboard.contains("counted with the small locals"), "{dashboard}");
        let (_, csv) = app.get(&format!("/elections/{id}/results.csv")).await;
        let row = csv.lines().find(|l| l.starts_with("871,")).unwrap();
        assert_eq!(row, "871,Local 871,2,2,100.00%,—,—,—,60.00%,false,20,0,20,small-locals");

        // Both verifiers, ours and the independent one, recount it the same way.
        let fingerprint = show(db, &id)["key_fingerprint"].as_str().unwrap().to_owned();
        let origin = show(db, &id)["origin"].as_str().unwrap().to_owned();
        let dir = db.path("bundle");
        let verified = sv(db, &["audit", "verify", dir.to_str().unwrap(), "--key", &fingerprint, "--origin", &origin]).ok();
        assert!(verified.contains("group small-locals locals 700 871  ballots       5  yes 3, no 2"), "{verified}");
        assert!(verified.contains("local 871        eligible       2  ballots       2  counted in group small-locals"), "{verified}");
        let (ok, out) = python_verify(&dir, &["--key", &fingerprint, "--origin", &origin]);
        assert!(ok, "{out}");
    }
}

both_backends! {
    fn a_vote_with_fewer_ballots_than_the_minimum_is_never_decrypted(db: &TestDb) {
        let (id, tokens, _) = small_election(db);
        sv(db, &["election", "open", &id]).ok();
        cast_in(db, &tokens, "600", &[Choice::Yes, Choice::No]);
        cast_in(db, &tokens, "871", &[Choice::Yes, Choice::Yes]);
        sv(db, &["election", "close", &id]).ok();
        let pass = db.path("teller.pass");
        let err = teller_decrypt_with(db, &id, &teller_state(db, 1), &pass).fails();
        assert!(err.contains("a total over 4 ballot(s) would be opened, fewer than the 5 this election's definition requires"), "{err}");
        assert!(err.contains("Nothing was sent"), "{err}");
        let bundle = export_bundle(db, &id, "bundle");
        assert!(!String::from_utf8(bundle.log).unwrap().contains("\"type\":\"tally_share\""));
        let err = sv(db, &["results", &id]).fails();
        assert!(err.contains("the result cannot be decrypted: a total over 4 ballot(s)"), "{err}");
    }
}

/// English words the result page or certificate showed before they spoke Spanish: none may
/// be left on the Spanish ones.
const ENGLISH_WORDS: [&str; 23] = [
    "PASSED",
    "FAILED",
    "needed",
    "locals holding",
    "Delegates decide",
    "delegates yes",
    "Quorum:",
    "quorum of",
    "Abstentions",
    "counted together",
    "Certificate of the result",
    "Certified",
    "Voting window",
    "Rule",
    "Results by local",
    "Eligible",
    "Turnout",
    "Yes share",
    "reached",
    "Signed by the tellers",
    "Download",
    "Signing key fingerprint",
    "teller 1",
];

both_backends! {
    async fn the_result_and_its_certificate_read_wholly_in_spanish(db: &TestDb) {
        use Choice::{Abstain, No, Yes};
        // A missed quorum, abstentions and a group of small locals: every sentence the core
        // writes about a result.
        let (id, tokens, _) = small_election_with(db, |text| {
            text.replace("choices = [\"yes\", \"no\"]\n", "choices = [\"yes\", \"no\", \"abstain\"]\nquorum = { num = 2, den = 3, cmp = \"at_least\" }\n")
                + "\n[translations.es]\ntitle = \"Autorización de huelga\"\nquestion = \"¿Autoriza usted una huelga?\"\n"
        });
        sv(db, &["election", "open", &id]).ok();
        cast_in(db, &tokens, "600", &[Yes, Yes, Yes, No, Abstain]);
        cast_in(db, &tokens, "700", &[Yes, Yes, No]);
        cast_in(db, &tokens, "871", &[No, No]);
        sv(db, &["election", "close", &id]).ok();
        decrypt(db, &id);
        sv(db, &["election", "certify", &id]).ok();
        let app = spawn_app(db).await;

        let (status, page) = app.get(&format!("/elections/{id}/result?lang=es")).await;
        assert_eq!(status, 200, "{page}");
        let sentence = "RECHAZADA: votaron 10 de 17 miembros con derecho a voto (58.82%); se necesita un quórum de al menos dos tercios; los locales que votaron sí suman 50 de 110 delegados; se necesita más de la mitad. Locales pequeños juntos (2 locales contados juntos): 40.00% sí; se necesita al menos el 75%.";
        let rule = "Deciden los delegados: el sí necesita más de la mitad de todos los delegados. Todos los delegados de un local cuentan sí si al menos el 75% de sus papeletas por sí o por no son sí, y todos no en caso contrario. Quórum: debe votar al menos dos tercios de los miembros con derecho a voto. Las abstenciones cuentan para la participación, no para el porcentaje de sí. No se descifra ningún total de menos de 5 papeletas";
        for words in [
            "<html lang=\"es\">",
            "<h1 class=\"certificate-heading\">Certificado del resultado</h1>",
            "<strong>Autorización de huelga</strong>",
            "¿Autoriza usted una huelga?",
            sentence,
            &rule.replace('\'', "&#39;"),
            "Los locales 700, 871 tuvieron muy pocas papeletas para contarse por separado",
            "<caption>Resultados por local</caption>",
            "contado con los locales pequeños",
            "<strong>Voto de los delegados (decide):</strong> 50 de 110 delegados sí; se necesita más de la mitad — no alcanzado",
            "<strong>Quórum:</strong> participación del 58.82%; se necesita al menos dos tercios — no alcanzado",
            "<dd id=\"certificate-by\">por ",
            "Firmado por los escrutadores",
            &format!("href=\"/elections/{id}/certificate.pdf?lang=es\""),
        ] {
            assert!(page.contains(words), "the Spanish page lacks `{words}`:\n{page}");
        }
        // What a reader sees (the text between the tags of <main>).
        let main = &page[page.find("<main").unwrap()..page.find("</main>").unwrap()];
        let seen: String = main.split('<').map(|part| part.split_once('>').map_or(part, |(_, text)| text)).collect();
        for english in ENGLISH_WORDS {
            assert!(!seen.contains(english), "`{english}` left in English on the Spanish page:\n{seen}");
        }
        // The switch gives the same page in English.
        assert!(page.contains(&format!("href=\"/elections/{id}/result?lang=en\"")), "{page}");
        let (_, english) = app.get(&format!("/elections/{id}/result?lang=en")).await;
        assert!(english.contains("FAILED: 10 of 17 eligible members voted (58.82%); a quorum of at least two-thirds is needed"), "{english}");

        // The certificate PDF too, read back by poppler.
        let res = app.client.get(format!("{}/elections/{id}/certificate.pdf?lang=es", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let file = db.path("certificado.pdf");
        std::fs::write(&file, res.bytes().await.unwrap()).unwrap();
        let text = pdf_pages(&file).concat();
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for words in ["Certificado del resultado", "Autorización de huelga", "escrutador 1", "Pregunta: ¿Autoriza usted una huelga?", "Período de votación: del 2026-01-01 00:00 UTC al 2036-01-01 00:00 UTC", "Regla: Deciden los delegados", sentence, "Certificado por ", "Firmado por los escrutadores:", "Con derecho a voto", "RECHAZADA"] {
            assert!(flat.contains(words), "the Spanish certificate lacks `{words}`:\n{text}");
        }
        for english in ENGLISH_WORDS {
            assert!(!flat.contains(english), "`{english}` left in English in the Spanish certificate:\n{text}");
        }
    }
}
