//! The election's witnesses: who must cosign every checkpoint the service publishes, and how
//! many of them (docs/OPERATIONS.md, "Witnesses"). Frozen in entry 0 with the rest.

use serde::{Deserialize, Serialize};

use super::{Problems, text_field};
use crate::witness::WitnessVerifier;

/// The most witnesses an election may list.
pub const MAX_WITNESSES: usize = 10;

/// One witness, as the definition lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witness {
    /// Who runs it, in words ("Rank-and-file caucus").
    pub name: String,
    /// Its verifier key, `<key name>+<key ID>+<base64(0x04 ‖ Ed25519 key)>`.
    pub key: String,
    /// Its submission prefix: `add-checkpoint` is posted to `<url>/add-checkpoint`.
    pub url: String,
}

impl Witness {
    /// Its verifier (the key was checked when the definition was).
    pub fn verifier(&self) -> Option<WitnessVerifier> {
        WitnessVerifier::parse(&self.key).ok()
    }
}

/// The witnesses and how many must cosign a checkpoint before anyone relies on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witnesses {
    /// How many must cosign.
    pub quorum: u32,
    /// The witnesses, in the order written.
    pub list: Vec<Witness>,
}

impl Witnesses {
    /// Their verifiers, in order.
    pub fn verifiers(&self) -> Vec<WitnessVerifier> {
        self.list.iter().filter_map(Witness::verifier).collect()
    }

    /// The quorum as a count.
    pub fn quorum(&self) -> usize {
        usize::try_from(self.quorum).unwrap_or(usize::MAX)
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWitnesses {
    quorum: Option<i64>,
    list: Option<Vec<RawWitness>>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawWitness {
    name: Option<String>,
    key: Option<String>,
    url: Option<String>,
}

impl From<&Witnesses> for RawWitnesses {
    fn from(w: &Witnesses) -> Self {
        RawWitnesses {
            quorum: Some(i64::from(w.quorum)),
            list: Some(
                w.list
                    .iter()
                    .map(|w| RawWitness {
                        name: Some(w.name.clone()),
                        key: Some(w.key.clone()),
                        url: Some(w.url.clone()),
                    })
                    .collect(),
            ),
        }
    }
}

/// Whether `url` is an https URL, or http to this machine (a trial): what a service may post
/// checkpoints to. Returns the URL without a trailing `/`.
fn check_url(p: &mut Problems, field: &str, url: String) -> Option<String> {
    let url = url.trim().trim_end_matches('/').to_owned();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://").filter(|r| loopback(r)));
    let host = rest.map(|r| r.split('/').next().unwrap_or_default());
    let ok = host.is_some_and(|h| !h.is_empty())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        p.add(
            field,
            format!(
                "`{url}` is not an https:// URL (http:// only to this machine: localhost, 127.x, [::1])"
            ),
        );
        return None;
    }
    Some(url)
}

/// Whether `rest` (after `http://`) starts with a loopback host.
fn loopback(rest: &str) -> bool {
    crate::net::is_loopback_host(rest.split('/').next().unwrap_or_default())
}

fn check_one(p: &mut Problems, i: usize, raw: RawWitness) -> Option<Witness> {
    let field = |f: &str| format!("witnesses.list[{i}].{f}");
    let name = p
        .required(&field("name"), raw.name)
        .and_then(|n| text_field(p, &field("name"), n, 100));
    let key = p.required(&field("key"), raw.key).and_then(|k| {
        let k = k.trim().to_owned();
        match WitnessVerifier::parse(&k) {
            Ok(_) => Some(k),
            Err(e) => {
                p.add(
                    field("key"),
                    format!(
                        "is not a witness's verifier key (`strikevote-witness init` prints it): {e}"
                    ),
                );
                None
            }
        }
    });
    let url = p
        .required(&field("url"), raw.url)
        .and_then(|u| check_url(p, &field("url"), u));
    Some(Witness {
        name: name?,
        key: key?,
        url: url?,
    })
}

/// Checks the `[witnesses]` table.
pub(super) fn check(p: &mut Problems, raw: Option<RawWitnesses>) -> Option<Option<Witnesses>> {
    let Some(raw) = raw else {
        return Some(None);
    };
    let before = p.0.len();
    let list = p.required("witnesses.list", raw.list).unwrap_or_default();
    if list.len() > MAX_WITNESSES {
        p.add(
            "witnesses.list",
            format!("lists {} witnesses (at most {MAX_WITNESSES})", list.len()),
        );
    }
    // Each witness counts once, whatever else is wrong with its entry.
    let mut names = std::collections::BTreeSet::new();
    for (i, w) in list.iter().enumerate() {
        if let Some(verifier) = w
            .key
            .as_deref()
            .and_then(|k| WitnessVerifier::parse(k).ok())
            && !names.insert(verifier.name().to_owned())
        {
            p.add(
                format!("witnesses.list[{i}].key"),
                format!(
                    "names the witness `{}` again: each witness counts once",
                    verifier.name()
                ),
            );
        }
    }
    let list: Vec<Option<Witness>> = list
        .into_iter()
        .enumerate()
        .map(|(i, w)| check_one(p, i, w))
        .collect();
    let count = list.len();
    let quorum = p.required("witnesses.quorum", raw.quorum).and_then(|q| {
        let ok = q >= 1 && usize::try_from(q).is_ok_and(|q| q <= count);
        if !ok {
            p.add(
                "witnesses.quorum",
                format!("must be at least 1 and at most the {count} witness(es) listed"),
            );
        }
        u32::try_from(q).ok().filter(|_| ok)
    });
    if p.0.len() != before {
        return None;
    }
    Some(Some(Witnesses {
        quorum: quorum?,
        list: list.into_iter().collect::<Option<Vec<_>>>()?,
    }))
}

/// What the witnesses (or their absence) risk, for `election check` and the builder.
pub(super) fn warnings(witnesses: Option<&Witnesses>) -> Vec<String> {
    match witnesses {
        None => vec![
            "No witnesses: whoever runs the server could show the tellers, members and auditors \
             different versions of the log (a split view) and no one could prove it. List two \
             or three independent witnesses under [witnesses] (docs/OPERATIONS.md, Witnesses)."
                .to_owned(),
        ],
        Some(w) if w.quorum() == w.list.len() => vec![format!(
            "witnesses.quorum is {} of {}: if any one witness is down, no ballot can be \
             acknowledged until it is back. A quorum below the number listed keeps the vote \
             running through one outage.",
            w.quorum,
            w.list.len()
        )],
        Some(_) => Vec::new(),
    }
}
