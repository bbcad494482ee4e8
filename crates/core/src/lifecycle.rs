//! An election's life as its log states it: one state machine for everything that reads a log
//! (the verifier, the tellers) and the service that writes it. Each entry either stands in the
//! phase it is read in or is refused; `open`, `close`, `result` and the `certify` action move
//! the election on, never back. The machine also knows which entries an official's action
//! writes: an `admin` entry stands right before the entry it made (`open`, `close`,
//! `tokens_issued`, `token_reissued`, `ceremony_restart`, the changed locals' `roster`
//! entries), and none of those
//! stands without it.

use crate::entry::{AdminAction, Body, Kind};

/// Where an election is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Being prepared: roster, tokens and the key ceremony, until `open`.
    #[default]
    Draft,
    /// Voting, from `open` to `close`.
    Open,
    /// Voting over; the tellers decrypt, until the `result`.
    Closed,
    /// The result is in the log; the officials have not certified it yet.
    Counted,
    /// The officials certified the result (`admin` `certify`). Nothing follows.
    Certified,
}

impl Phase {
    /// Its word (`draft`, `open`, `closed`, `counted`, `certified`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Draft => "draft",
            Phase::Open => "open",
            Phase::Closed => "closed",
            Phase::Counted => "counted",
            Phase::Certified => "certified",
        }
    }

    /// The phases an official's action may be taken in, and the phase it leaves.
    fn action(self, action: AdminAction) -> Result<Phase, String> {
        use AdminAction as A;
        let allowed = match action {
            A::Create | A::RosterImport | A::Open | A::CeremonyRestart => self == Phase::Draft,
            A::TokensIssue | A::TokensReissueAll | A::TokenReissue | A::TokensReissue => {
                matches!(self, Phase::Draft | Phase::Open)
            }
            A::Close => self == Phase::Open,
            A::Certify => self == Phase::Counted,
        };
        if !allowed {
            let when = match action {
                A::Create | A::RosterImport | A::Open | A::CeremonyRestart => {
                    "only before the vote opens"
                }
                A::TokensIssue | A::TokensReissueAll | A::TokenReissue | A::TokensReissue => {
                    "only before the vote closes"
                }
                A::Close => "only while the vote is open",
                A::Certify => "only once, after the result",
            };
            return Err(format!(
                "an official's `{action}` while the election is {}: it may be taken {when}",
                self.as_str()
            ));
        }
        Ok(if action == A::Certify {
            Phase::Certified
        } else {
            self
        })
    }

    /// Whether an entry of `kind` may stand in this phase (an `admin` entry: some action may;
    /// which one, [`Phase::after`] says). The service asks this too before it writes one.
    pub fn stands(self, kind: Kind) -> bool {
        match kind {
            Kind::Election => false,
            Kind::Roster
            | Kind::TellerKey
            | Kind::TellerPolynomial
            | Kind::ElectionKey
            | Kind::TellerReady
            | Kind::CeremonyRestart
            | Kind::Open => self == Phase::Draft,
            Kind::TokensIssued | Kind::TokenReissued => matches!(self, Phase::Draft | Phase::Open),
            Kind::Ballot | Kind::Close | Kind::SealingCode | Kind::Challenge => self == Phase::Open,
            Kind::TallyShare | Kind::Result => self == Phase::Closed,
            Kind::Admin => true,
            Kind::Account => self != Phase::Certified,
        }
    }

    /// The phase after `body`, if it may stand in this one.
    pub fn after(self, body: &Body) -> Result<Phase, String> {
        if let Body::Admin(admin) = body {
            return self.action(admin.action);
        }
        let kind = body.kind();
        let allowed = self.stands(kind);
        let next = match kind {
            Kind::Open => Phase::Open,
            Kind::Close => Phase::Closed,
            Kind::Result => Phase::Counted,
            _ => self,
        };
        if !allowed {
            return Err(match kind {
                Kind::Election => "a second election entry".to_owned(),
                _ => format!(
                    "a `{}` entry while the election is {}: {}",
                    kind.as_str(),
                    self.as_str(),
                    when(kind)
                ),
            });
        }
        Ok(next)
    }
}

/// When an entry of `kind` may stand, in words.
fn when(kind: Kind) -> &'static str {
    match kind {
        Kind::Roster
        | Kind::TellerKey
        | Kind::TellerPolynomial
        | Kind::ElectionKey
        | Kind::TellerReady
        | Kind::CeremonyRestart => "it stands only before the vote opens",
        Kind::TokensIssued | Kind::TokenReissued => "tokens are issued only before the vote closes",
        Kind::Open => "the vote opens once, from the draft",
        Kind::Ballot => "ballots stand only between open and close",
        Kind::SealingCode => "the sealing code changes only while the vote is open",
        Kind::Challenge => "ballots are checked only while the vote is open",
        Kind::Close => "the vote closes once, after it opened",
        Kind::TallyShare => "decryption shares stand only between close and result",
        Kind::Result => "the result stands once, after close",
        Kind::Account => "account changes are logged only until the result is certified",
        Kind::Election | Kind::Admin => "",
    }
}

/// The action an `admin` entry must carry to stand right before an entry of `kind`, for the
/// kinds an action writes.
fn made_by(kind: Kind) -> &'static [AdminAction] {
    match kind {
        Kind::Roster => &[AdminAction::RosterImport],
        Kind::TokensIssued => &[
            AdminAction::TokensIssue,
            AdminAction::TokensReissueAll,
            AdminAction::TokensReissue,
        ],
        Kind::TokenReissued => &[AdminAction::TokenReissue],
        Kind::Open => &[AdminAction::Open],
        Kind::Close => &[AdminAction::Close],
        Kind::CeremonyRestart => &[AdminAction::CeremonyRestart],
        _ => &[],
    }
}

/// The entry an action writes right after its `admin` entry, for the actions that always
/// write one.
fn makes(action: AdminAction) -> Option<Kind> {
    match action {
        AdminAction::TokensIssue | AdminAction::TokensReissueAll | AdminAction::TokensReissue => {
            Some(Kind::TokensIssued)
        }
        AdminAction::TokenReissue => Some(Kind::TokenReissued),
        AdminAction::Open => Some(Kind::Open),
        AdminAction::Close => Some(Kind::Close),
        AdminAction::CeremonyRestart => Some(Kind::CeremonyRestart),
        AdminAction::Create | AdminAction::RosterImport | AdminAction::Certify => None,
    }
}

/// The log read so far, as the lifecycle sees it: the phase, and what the entry before says
/// about the next one.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    phase: Phase,
    /// Entries read after entry 0.
    read: u64,
    /// The previous entry's kind, and its action if it was an `admin` entry.
    previous: Option<(Kind, Option<AdminAction>)>,
}

impl Lifecycle {
    /// After entry 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The phase so far.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Reads the next entry (after entry 0): refused if it may not stand here.
    pub fn step(&mut self, body: &Body) -> Result<(), String> {
        let kind = body.kind();
        let action = match body {
            Body::Admin(admin) => Some(admin.action),
            _ => None,
        };
        // Entry 1 is the official's `create`, and no `create` stands anywhere else.
        let first = self.read == 0;
        if first != (action == Some(AdminAction::Create)) {
            return Err(if first {
                "entry 1 must be the official's `admin` `create` (who created the election)".into()
            } else {
                "a second `create`: the election is created once, in entry 1".into()
            });
        }
        // What the previous action wrote stands right after it.
        if let Some((_, Some(previous))) = self.previous
            && let Some(made) = makes(previous)
            && made != kind
        {
            return Err(format!(
                "an official's `{previous}` is not followed by its `{}` entry",
                made.as_str()
            ));
        }
        // And nothing an action writes stands without it (a roster import writes a `roster`
        // entry for each local it changed, one after another).
        let makers = made_by(kind);
        let after_maker = match self.previous {
            Some((_, Some(previous))) => makers.contains(&previous),
            Some((Kind::Roster, None)) => kind == Kind::Roster,
            _ => false,
        };
        if !makers.is_empty() && !after_maker {
            let names: Vec<&str> = makers.iter().map(|a| a.as_str()).collect();
            return Err(format!(
                "a `{}` entry not written by an official's action: it stands right after an \
                 `admin` `{}` entry",
                kind.as_str(),
                names.join("` or `")
            ));
        }
        self.phase = self.phase.after(body)?;
        self.previous = Some((kind, action));
        self.read += 1;
        Ok(())
    }

    /// Refuses a log that ends between an action and what it writes.
    pub fn finish(&self) -> Result<(), String> {
        if self.read == 0 {
            return Err("the log ends at entry 0: entry 1 must be the official's `create`".into());
        }
        if let Some((_, Some(previous))) = self.previous
            && let Some(made) = makes(previous)
        {
            return Err(format!(
                "the log ends after an official's `{previous}`, without its `{}` entry",
                made.as_str()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Admin, At, TokenReissued};
    use proptest::prelude::*;

    fn admin(action: AdminAction) -> Body {
        Body::Admin(Admin {
            action,
            by: "alice".into(),
            approved_by: None,
        })
    }

    /// A `result` (what it says does not matter to the lifecycle).
    fn result() -> Body {
        let line = crate::worked_example::entries()
            .into_iter()
            .find(|l| l.contains(r#""type":"result""#))
            .expect("the worked example's result");
        crate::entry::Entry::parse(line.as_bytes()).unwrap().body
    }

    fn at() -> At {
        At {
            at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn opening() -> Body {
        Body::Open(crate::entry::Opening {
            at: chrono::DateTime::UNIX_EPOCH,
            sealing_code: "0".repeat(64),
        })
    }

    /// A body of each shape the machine tells apart.
    fn bodies() -> Vec<Body> {
        let mut out: Vec<Body> = AdminAction::ALL.into_iter().map(admin).collect();
        out.push(opening());
        out.push(Body::Close(at()));
        out.push(Body::TokenReissued(TokenReissued { local: "1".into() }));
        out.push(result());
        out
    }

    #[test]
    fn the_service_order_is_accepted_and_ends_certified() {
        let mut life = Lifecycle::new();
        let log = [
            admin(AdminAction::Create),
            admin(AdminAction::TokenReissue),
            Body::TokenReissued(TokenReissued { local: "1".into() }),
            admin(AdminAction::Open),
            opening(),
            admin(AdminAction::Close),
            Body::Close(at()),
            result(),
            admin(AdminAction::Certify),
        ];
        for body in &log {
            life.step(body).unwrap();
        }
        life.finish().unwrap();
        assert_eq!(life.phase(), Phase::Certified);
    }

    #[test]
    fn an_action_without_its_entry_or_an_entry_without_its_action_is_refused() {
        let mut life = Lifecycle::new();
        life.step(&admin(AdminAction::Create)).unwrap();
        let err = life.clone().step(&opening()).unwrap_err();
        assert!(err.contains("right after an `admin` `open`"), "{err}");
        life.step(&admin(AdminAction::Open)).unwrap();
        assert!(life.finish().unwrap_err().contains("without its `open`"));
        let err = life.step(&admin(AdminAction::Certify)).unwrap_err();
        assert!(err.contains("not followed by its `open`"), "{err}");
    }

    #[test]
    fn what_an_action_writes_never_stands_alone_and_entry_0_never_twice() {
        let mut life = Lifecycle::new();
        life.step(&admin(AdminAction::Create)).unwrap();
        let roster = Body::Roster(crate::entry::Roster {
            local: "1".into(),
            eligible: 0,
            digest: hex::encode(crate::entry::roster_digest([])),
        });
        let issued = Body::TokensIssued(crate::entry::TokensIssued {
            count: 1,
            locals: [("1".to_owned(), 1)].into(),
        });
        let reissued = Body::TokenReissued(TokenReissued { local: "1".into() });
        let close = Body::Close(at());
        for (body, maker) in [
            (&close, "`close`"),
            (&roster, "`roster_import`"),
            (&issued, "`tokens_issue` or `tokens_reissue_all`"),
            (&reissued, "`token_reissue`"),
        ] {
            let err = life.clone().step(body).unwrap_err();
            assert!(
                err.contains(&format!("right after an `admin` {maker}")),
                "{err}"
            );
        }
        let again = crate::entry::Entry::parse(crate::worked_example::entries()[0].as_bytes())
            .unwrap()
            .body;
        assert_eq!(life.step(&again).unwrap_err(), "a second election entry");
    }

    proptest! {
        /// Whatever order entries come in, what is accepted moves forward only, opens and
        /// closes at most once and certifies only after a result.
        #[test]
        fn accepted_logs_move_forward_only(picks in proptest::collection::vec(0usize..12, 0..40)) {
            let all = bodies();
            let mut life = Lifecycle::new();
            let mut accepted: Vec<Kind> = Vec::new();
            let mut certified = 0;
            for pick in picks {
                let body = &all[pick % all.len()];
                let before = life.phase();
                if life.step(body).is_ok() {
                    prop_assert!(life.phase() >= before);
                    accepted.push(body.kind());
                    if let Body::Admin(a) = body && a.action == AdminAction::Certify {
                        certified += 1;
                        prop_assert_eq!(before, Phase::Counted);
                    }
                } else {
                    prop_assert_eq!(life.phase(), before);
                }
            }
            for kind in [Kind::Open, Kind::Close, Kind::Result] {
                prop_assert!(accepted.iter().filter(|k| **k == kind).count() <= 1);
            }
            prop_assert!(certified <= 1);
        }
    }
}
