#!/usr/bin/env python3
"""An independent verifier of a strikevote audit bundle (log format v9), written from
docs/LOG_FORMAT.md alone.

It shares no code with strikevote: the standard library only (hashlib, base64, json), the
RFC 8032 reference arithmetic for Ed25519, and v2crypto.py beside it (Ristretto255, Merlin,
the ballots' proofs, the key ceremony, the tellers' decryption shares). It checks the
signature, the tree, every entry's order rule, every ballot's proofs, that the election key is
the one the tellers' polynomials give, every decryption share's proof, and that the result's
counts are what the shares open, counted under the election's rule (small locals counted
together as the document says: no total of fewer than `min_ballots` ballots is opened).

Usage: verify_bundle.py BUNDLE_DIR --key KEY [--origin ORIGIN]
       verify_bundle.py BUNDLE_DIR --trust-bundle-key
KEY is the election's verifier key (ORIGIN+KEYID+KEY) or the key fingerprint printed on the
ballot notice (32 hex digits, grouped or not; then --origin is required). The key in the bundle
is used only if it matches. Exit 0 and "OK ..." when the bundle verifies; exit 1 and
"FAIL: ..." otherwise.
"""
import base64
import hashlib
import json
import re
import sys

import rules
import v2crypto as v2

# --- Ed25519 verification (RFC 8032 section 5.1, reference arithmetic; the Edwards25519
# arithmetic is v2crypto's, shared with Ristretto255) ---
P, Q, D, SQRT_M1 = v2.P, v2.L, v2.D, v2.SQRT_M1
_add, _mul = v2.add, v2.mul


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % P)


def ed25519_verify(public, msg, sig):
    a = _decompress(public)
    r = _decompress(sig[:32])
    if a is None or r is None or len(sig) != 64:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % Q
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# --- RFC 9162 Merkle tree ---
def mth(leaves):
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def parse_vkey(vkey):
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        fail("not a verifier key (NAME+KEYID+KEY)")
    return parts


def pinned_vkey(bundle, key, origin, trust_bundle_key):
    """The verifier key to trust, from outside the bundle (docs/DESIGN.md invariant 8)."""
    shipped = None
    try:
        shipped = open(bundle + "/key.vkey", encoding="utf-8").read().strip()
    except OSError:
        pass
    if trust_bundle_key:
        print("WARNING: trusting the key inside the bundle", file=sys.stderr)
        if shipped is None:
            fail("the bundle has no key.vkey")
        return shipped
    if key is None:
        fail("give --key (the verifier key or the fingerprint from the notice) or --trust-bundle-key")
    digits = "".join(c for c in key.strip() if c not in "-: ").lower()
    if len(digits) == 32 and all(c in "0123456789abcdef" for c in digits):
        if origin is None:
            fail("a fingerprint needs --origin")
        if shipped is None:
            fail("the bundle has no key.vkey")
        name, _, key_b64 = parse_vkey(shipped)
        public = base64.b64decode(key_b64, validate=True)[1:]
        if hashlib.sha256(public).digest()[:16].hex() != digits:
            fail("the bundle's key is not the key with the pinned fingerprint")
        if name != origin:
            fail("the bundle's key is not for the pinned origin")
        return shipped
    name = parse_vkey(key)[0]
    if origin is not None and origin != name:
        fail("the pinned key is not for the given origin")
    return key.strip()


def main(bundle, key=None, origin=None, trust_bundle_key=False):
    vkey = pinned_vkey(bundle, key, origin, trust_bundle_key)
    name, key_id_hex, key_b64 = parse_vkey(vkey)
    key_data = base64.b64decode(key_b64, validate=True)
    if len(key_data) != 33 or key_data[0] != 0x01:
        fail("key.vkey is not an Ed25519 verifier key")
    public = key_data[1:]
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public).digest()[:4]
    if key_id.hex() != key_id_hex:
        fail("key.vkey's key ID does not match")

    note = open(bundle + "/checkpoint", encoding="utf-8").read()
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    signed = False
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            fail("malformed signature line")
        sig_name, blob_b64 = line[2:].split(" ", 1)
        blob = base64.b64decode(blob_b64, validate=True)
        if sig_name == name and blob[:4] == key_id:
            if not ed25519_verify(public, text.encode(), blob[4:]):
                fail("bad checkpoint signature")
            signed = True
    if not signed:
        fail("checkpoint not signed by key.vkey")
    origin, size, root_b64 = text.split("\n")[:3]
    if origin != name:
        fail("checkpoint origin is not the key name")
    size = int(size)
    root = base64.b64decode(root_b64, validate=True)

    log = open(bundle + "/log.jsonl", "rb").read()
    if log and not log.endswith(b"\n"):
        fail("log.jsonl does not end with a newline")
    lines = log.split(b"\n")[:-1] if log else []
    if len(lines) != size:
        fail("log has %d entries, checkpoint says %d" % (len(lines), size))
    leaves = [hashlib.sha256(b"\x00" + line).digest() for line in lines]
    if mth(leaves) != root:
        fail("Merkle root mismatch")
    entries = [json.loads(line) for line in lines]
    if not entries or entries[0].get("type") != "election" or entries[0].get("v") != 9:
        fail("entry 0 is not the election")
    election = entries[0]["election"]
    if not origin.endswith("/elections/" + election):
        fail("origin does not name the election")
    cosigned = cosigners(entries[0], text, sigs)
    checked = Rules(entries[0], lines, leaves)
    try:
        checked.check_all(entries)
    except v2.Invalid as e:
        fail(str(e))
    print("OK size=%d root=%s election=%s cosigned_by=%s" % (
        size, root_b64, election, ",".join(cosigned) or "-"))
    # Who sealed how many ballots, and how many were checked first (every one re-sealed).
    for code, (ballots, challenges) in checked.sealing.items():
        print("sealed by %s: %d ballot(s), %d checked first" % (code, ballots, challenges))


def cosigners(definition, text, sigs):
    """The witnesses entry 0 lists whose cosignature/v1 on the checkpoint verifies; fails
    unless they are at least its quorum (LOG_FORMAT.md, "Cosignatures")."""
    witnesses = definition.get("witnesses")
    if witnesses is None:
        return []
    problem = rules.witnesses(witnesses)
    if problem:
        fail("entry 0: " + problem)
    cosigned = []
    for one in witnesses["list"]:
        name, public = rules.witness_key(one["key"])
        key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
        for line in sigs.splitlines():
            sig_name, blob_b64 = line[2:].split(" ", 1)
            blob = base64.b64decode(blob_b64, validate=True)
            if sig_name != name or blob[:4] != key_id:
                continue
            if len(blob) != 76:
                fail("a malformed cosignature by " + name)
            when = int.from_bytes(blob[4:12], "big")
            message = ("cosignature/v1\ntime %d\n" % when).encode() + text.encode()
            if when >= 2 ** 63 or not ed25519_verify(public, message, blob[12:]):
                fail("the cosignature by %s does not verify" % name)
            if name not in cosigned:
                cosigned.append(name)
    if len(cosigned) < witnesses["quorum"]:
        fail("the checkpoint is cosigned by %d of the %d witnesses entry 0 asks for" % (
            len(cosigned), witnesses["quorum"]))
    return cosigned


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def met(fraction, part, whole):
    """`num/den` with `cmp` at_least or more_than; nothing is met without a whole."""
    if fraction is None:
        return True
    if whole == 0:
        return False
    lhs, rhs = part * fraction["den"], fraction["num"] * whole
    return lhs >= rhs if fraction["cmp"] == "at_least" else lhs > rhs


ENTRY_CONTEXT = b"strikevote teller entry v3\n"


def unsigned(line):
    """An entry's bytes without its last field, `signature` (what its teller signed)."""
    marker = b',"signature":"'
    at = line.rfind(marker)
    if at < 0 or not line.endswith(b'"}'):
        return None
    return line[:at] + b"}"


# The lifecycle ("Order rules"): the phases, the kinds each phase allows and the kind that
# moves it on; officials' actions, the phases they are taken in, and what each writes.
PHASES = ("draft", "open", "closed", "counted", "certified")
STANDS = {"roster": ("draft",), "teller_key": ("draft",), "teller_polynomial": ("draft",),
          "election_key": ("draft",), "teller_ready": ("draft",), "ceremony_restart": ("draft",),
          "tokens_issued": ("draft", "open"), "token_reissued": ("draft", "open"),
          "open": ("draft",), "ballot": ("open",), "close": ("open",),
          "sealing_code": ("open",), "challenge": ("open",),
          "tally_share": ("closed",), "result": ("closed",),
          "account": ("draft", "open", "closed", "counted")}
MOVES = {"open": "open", "close": "closed", "result": "counted"}
ACTIONS = {"create": ("draft",), "roster_import": ("draft",), "open": ("draft",),
           "ceremony_restart": ("draft",),
           "tokens_issue": ("draft", "open"), "tokens_reissue_all": ("draft", "open"),
           "token_reissue": ("draft", "open"), "tokens_reissue": ("draft", "open"),
           "close": ("open",), "certify": ("counted",)}
MAKES = {"tokens_issue": "tokens_issued", "tokens_reissue_all": "tokens_issued",
         "tokens_reissue": "tokens_issued",
         "token_reissue": "token_reissued", "open": "open", "close": "close",
         "ceremony_restart": "ceremony_restart"}
MADE_BY = {"roster": ("roster_import",),
           "tokens_issued": ("tokens_issue", "tokens_reissue_all", "tokens_reissue"),
           "token_reissued": ("token_reissue",), "open": ("open",), "close": ("close",),
           "ceremony_restart": ("ceremony_restart",)}
COVERED = ("close", "token_reissue", "tokens_reissue_all")
ACCOUNT_ACTIONS = ("create", "disable", "enable", "api_token_create", "api_token_revoke")
RECEIPT = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}\Z")
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()


class Rules:
    """Log format v9's order rules and cryptography, entry by entry."""

    TYPES = {"roster", "tokens_issued", "token_reissued", "admin", "open", "ballot", "close",
             "result", "teller_key", "teller_polynomial", "election_key", "teller_ready",
             "tally_share", "account", "sealing_code", "challenge", "ceremony_restart"}

    def __init__(self, definition, lines, leaves):
        self.lines, self.leaves = lines, leaves
        self.identities = {}  # this ceremony's (since the last restart)
        self.seats, self.retired = {}, set()  # across restarts: each seat's identity; replaced ones
        self.closed = None
        self.d = definition
        self.election = definition["election"]
        self.choices = definition["choices"]
        self.locals = [l["code"] for l in definition["locals"]]
        self.n = definition["tellers"]["count"]
        self.t = definition["tellers"]["threshold"]
        self.phase = "setup"
        self.commitments, self.polynomials, self.ready = {}, {}, set()
        self.key = self.key_bytes = self.participants = None
        self.eligible, self.cast, self.trackers, self.receipts = {}, {}, set(), set()
        zero = (v2.IDENTITY, v2.IDENTITY)
        self.sums = {code: [zero] * len(self.choices) for code in self.locals}
        self.shares = []
        self.opened = False
        self.life, self.life_before, self.previous, self.read = "draft", "draft", None, 0
        self.rosters, self.opened_at, self.last_admin = {}, None, None
        self.accounts = {}  # account created in this log -> whether after the vote opened
        # "server", "member" (no code named) or a named code -> [ballots, challenges]
        self.sealing = {"server": [0, 0]}
        self.code_from = None

    def check_all(self, entries):
        problem = rules.definition(self.d)
        if problem:
            raise v2.Invalid("entry 0: the definition breaks a rule of election check: " + problem)
        for index, e in enumerate(entries[1:], 1):
            if e.get("election") != self.election or e.get("v") != 9:
                raise v2.Invalid("entry %d: of another election or version" % index)
            t = e.get("type")
            if t not in self.TYPES:
                raise v2.Invalid("entry %d: unknown entry type %r" % (index, t))
            self.index = index
            problem = self.lifecycle(e) or getattr(self, t, lambda e: None)(e)
            if problem:
                raise v2.Invalid("entry %d: %s" % (index, problem))
        last = self.previous[1] if self.previous else None
        if self.read == 0 or last in MAKES:
            raise v2.Invalid("entry %d: the log ends inside an official's action" % (len(entries) - 1))

    def lifecycle(self, e):
        """Where the entry may stand: its phase, and the official's action that writes it."""
        t, action = e["type"], e.get("action") if e["type"] == "admin" else None
        if t == "admin" and action not in ACTIONS:
            return "unknown action %r" % action
        if (self.read == 0) != (action == "create"):
            return "entry 1 is the official's create, and only entry 1"
        previous_type, previous_action = self.previous or (None, None)
        if previous_action in MAKES and MAKES[previous_action] != t:
            return "an official's %s is not followed by its %s" % (previous_action, MAKES[previous_action])
        if t in MADE_BY and previous_action not in MADE_BY[t] and not (
                t == "roster" and previous_type == "roster"):
            return "a %s entry not written by an official's action" % t
        allowed = ACTIONS[action] if action else STANDS.get(t, PHASES)
        if self.life not in allowed:
            return "a %s %s while the election is %s" % (t, action or "entry", self.life)
        self.life_before = self.life
        if action == "certify":
            self.life = "certified"
        self.life = MOVES.get(t, self.life)
        self.previous, self.read = (t, action), self.read + 1
        return None

    def admin(self, e):
        by, action = rules.official(e["by"]), e["action"]
        if by is None:
            return "`by` is not an official's name"
        if by == "schedule" and action not in ("open", "close"):
            return "the schedule only opens and closes the vote"
        if by == "mail" and action not in ("tokens_issue", "tokens_reissue"):
            return "the outbox (`mail`) only issues and replaces tokens"
        if action == "tokens_reissue" and by != "mail":
            return "tokens_reissue by someone other than the outbox (`mail`)"
        rule = self.d.get("two_person_rule", True)
        if "approved_by" in e:
            problem = self.approval(e["by"], e["approved_by"])
            if problem:
                return problem
            if not rule or action not in COVERED or self.life_before != "open":
                return "approved_by where the two-person rule does not apply"
        elif (rule and by == "person" and self.life_before == "open"
              and action in ("token_reissue", "tokens_reissue_all")):
            return "a reissue while the vote is open, with no second official's approval"
        self.last_admin = e

    def approval(self, by, second):
        """Two different officials' accounts, neither created after the vote opened."""
        if second == by:
            return "an official's action approved by the same official"
        if rules.official(by) != "person" or rules.official(second) != "person":
            return "approved_by on an action of the console, the schedule or the outbox"
        if self.accounts.get(by) or self.accounts.get(second):
            return "an approved action by an account created after the vote opened"
        return None

    def account(self, e):
        fields = ["v", "type", "election", "action", "account", "role", "at", "by"]
        if list(e) not in (fields, fields + ["approved_by"]):
            return "an account entry's fields are not exactly those of LOG_FORMAT.md"
        action, account, role, by = e["action"], e["account"], e["role"], rules.official(e["by"])
        if action not in ACCOUNT_ACTIONS or role not in ("admin", "observer", "auditor"):
            return "unknown account action or role"
        if not isinstance(e["at"], str) or rules.time(e["at"]) is None:
            return "an account entry's time is not RFC 3339 UTC in whole seconds"
        if by not in ("person", "console") or rules.official(account) != "person":
            return "an account change by the schedule or the outbox, or for no official's account"
        if by == "person" and action == "api_token_create" and e["by"] != account:
            return "an official creates an API token for someone else"
        if by == "person" and action == "disable" and e["by"] == account:
            return "an official disables their own account"
        covered = role == "admin" and action in ("create", "api_token_create")
        if "approved_by" in e:
            problem = self.approval(e["by"], e["approved_by"])
            if problem:
                return problem
            if not covered:
                return "approved_by on an account change the two-person rule does not cover"
        elif (covered and by == "person" and self.life_before == "open"
              and self.d.get("two_person_rule", True)):
            return "an admin account or admin's API token while the vote is open, unapproved"
        if action == "create":
            if account in self.accounts:
                return "an account created twice"
            self.accounts[account] = self.life_before != "draft"
        return None

    def tokens_issued(self, e):
        counts = e["locals"]
        if not counts or any(c not in self.locals or not rules.whole(n, 1, 2 ** 64 - 1)
                             for c, n in counts.items()):
            return "tokens_issued counts tokens of no local, or 0 tokens"
        if e["count"] != sum(counts.values()):
            return "tokens_issued's count is not the sum of its locals"

    def token_reissued(self, e):
        if e["local"] not in self.locals:
            return "a token reissued in no local"

    def teller(self, e):
        teller = e.get("teller")
        return teller if isinstance(teller, int) and 1 <= teller <= self.n else None

    def signed_by(self, e, identity):
        """Whether the entry at self.index carries a valid signature by `identity` (hex)."""
        body = unsigned(self.lines[self.index])
        try:
            public, sig = bytes.fromhex(identity), bytes.fromhex(e.get("signature", ""))
        except ValueError:
            return False
        return (body is not None and len(public) == 32 and len(sig) == 64
                and ed25519_verify(public, ENTRY_CONTEXT + body, sig))

    def teller_signed(self, e):
        teller = self.teller(e)
        return teller in self.identities and self.signed_by(e, self.identities[teller])

    def teller_key(self, e):
        teller = self.teller(e)
        if self.phase != "setup" or teller is None or teller in self.commitments:
            return "a teller key out of place"
        if not rules.age_recipient(e["recipient"]):
            return "teller %d's recipient is not an age X25519 recipient" % teller
        if any(t != teller and i == e["identity"] for t, i in self.seats.items()):
            return "two tellers with one identity key"
        if e["identity"] in self.retired:
            return "the identity key of a teller replaced at a restart"
        if self.seats.get(teller, e["identity"]) != e["identity"]:
            return "teller %d stayed through a restart but publishes another identity key" % teller
        if not self.signed_by(e, e["identity"]):
            return "teller %d's key entry is not signed by its identity key" % teller
        self.identities[teller] = self.seats[teller] = e["identity"]
        self.commitments[teller] = e["commitment"]

    def ceremony_restart(self, e):
        replaced = e["replaced"]
        if (list(e) != ["v", "type", "election", "replaced"] or not isinstance(replaced, list)
                or not replaced or any(not rules.whole(t, 1, self.n) for t in replaced)
                or replaced != sorted(set(replaced))):
            return "a restart names no teller, or names them out of order or twice"
        if self.key is not None and len(self.ready) == self.n:
            return "a restart of a complete key ceremony"
        if any(t not in self.seats for t in replaced):
            return "a restart replaces a teller who holds no seat (never published a key, or was replaced since)"
        for t in replaced:
            self.retired.add(self.seats.pop(t))
        self.identities, self.commitments, self.polynomials, self.ready = {}, {}, {}, set()
        self.key = self.key_bytes = self.participants = None

    def teller_polynomial(self, e):
        teller = self.teller(e)
        if len(self.commitments) != self.n or teller is None or teller in self.polynomials:
            return "a polynomial out of place"
        if not self.teller_signed(e):
            return "teller %d's polynomial is not signed by its identity key" % teller
        message = e["polynomial"]
        poly = [v2.element(x) for x in message["polynomial"]]
        if len(poly) != self.t:
            return "a polynomial of the wrong degree"
        opening = v2.raw(message["opening"])
        if hashlib.sha256(poly[0][1] + opening).hexdigest() != self.commitments[teller]:
            return "the polynomial is not the committed one"
        if not v2.possession(self.n, self.t, poly, message["proof_of_possession"]):
            return "the proof of possession fails"
        self.polynomials[teller] = [p for p, _ in poly]

    def election_key(self, e):
        if len(self.polynomials) != self.n or self.key is not None:
            return "the election key out of place"
        polys = list(self.polynomials.values())
        shared = v2.IDENTITY
        for poly in polys:
            shared = v2.add(shared, poly[0])
        participants = []
        for i in range(self.n):
            point = v2.IDENTITY
            for poly in polys:
                for k, coefficient in enumerate(poly):
                    point = v2.add(point, v2.mul(pow(i + 1, k, v2.L), coefficient))
            participants.append(point)
        keys = e["keys"]
        if keys["params"] != {"shares": self.n, "threshold": self.t}:
            return "the key set's parameters are not the election's"
        self.key, self.key_bytes = v2.element(keys["shared_key"])
        logged = [v2.element(k)[0] for k in keys["participant_keys"]]
        if not v2.same(self.key, shared) or len(logged) != self.n or not all(
                v2.same(a, b) for a, b in zip(logged, participants)):
            return "the election key is not the one the polynomials give"
        self.participants = participants

    def teller_ready(self, e):
        teller = self.teller(e)
        if self.key is None or teller is None or teller in self.ready:
            return "a teller_ready out of place"
        if not self.teller_signed(e):
            return "teller %d's teller_ready is not signed by its identity key" % teller
        self.ready.add(teller)

    def roster(self, e):
        if self.phase != "setup" or e["local"] not in self.locals:
            return "a roster out of place"
        digest = e["digest"]
        if not re.fullmatch(r"[0-9a-f]{64}", digest) or (digest == EMPTY_DIGEST) != (e["eligible"] == 0):
            return "a roster digest that is not the digest of its members"
        if self.rosters.get(e["local"]) == (e["eligible"], digest):
            return "a roster entry that repeats the local's previous one"
        self.rosters[e["local"]] = (e["eligible"], digest)
        self.eligible[e["local"]] = e["eligible"]

    def open(self, e):
        if self.phase != "setup" or len(self.ready) != self.n:
            return "the vote opens before the key ceremony is complete"
        if set(self.eligible) != set(self.locals):
            return "the vote opens before every local has a roster"
        if e["at"] >= self.d["closes_at"]:
            return "the vote opens after its closing time"
        if self.last_admin["by"] == "schedule" and e["at"] < self.d["opens_at"]:
            return "the schedule opens the vote before opens_at"
        self.opened_at = e["at"]
        self.phase = "open"
        return self.sealing_code(e)

    def sealing_code(self, e):
        """An `open` or `sealing_code` entry names a sealing code not named before."""
        if list(e) != ["v", "type", "election", "at", "sealing_code"]:
            return "a malformed %s entry" % e["type"]
        code = e["sealing_code"]
        if not isinstance(code, str) or not re.fullmatch(r"[0-9a-f]{64}", code) or code in self.sealing:
            return "a sealing code that is not 64 lowercase hex digits, or named twice"
        if self.code_from is not None and e["at"] < self.code_from:
            return "a sealing code named before the previous one"
        self.code_from = e["at"]
        self.sealing[code] = [0, 0]

    def sealed_with(self, code, which):
        """Counts a ballot (which=0) or a challenge (1) against its sealing code."""
        key = "member" if code is None else code
        if code is not None and (not isinstance(code, str) or len(code) != 64 or code not in self.sealing):
            return "a sealing code no earlier open or sealing_code entry names"
        self.sealing.setdefault(key, [0, 0])[which] += 1

    def challenge(self, e):
        if list(e) != ["v", "type", "election", "local", "sealing_code", "tracker", "choice", "randomness"]:
            return "a malformed challenge"
        local, tracker = e["local"], e["tracker"]
        if local not in self.locals or e["choice"] not in self.choices:
            return "a challenge of no local, or for no choice of the election"
        if not isinstance(tracker, str) or not re.fullmatch(r"[0-9a-f]{64}", tracker):
            return "a challenge tracker that is not 64 lowercase hex digits"
        try:
            remade = v2.resealed_tracker(self.key, self.election, local, len(self.choices),
                                         self.choices.index(e["choice"]), e["randomness"])
        except v2.Invalid as why:
            return "a challenge's randomness: %s" % why
        if remade != tracker:
            return "a challenge whose randomness does not re-seal its choice to its tracker"
        if bytes.fromhex(tracker) in self.trackers:
            return "a tracker checked twice, or checked and cast"
        self.trackers.add(bytes.fromhex(tracker))
        return self.sealed_with(e["sealing_code"], 1)

    def ballot(self, e):
        fields = ["v", "type", "election", "local", "sealed_by", "sealing_code", "ballot", "receipt"]
        if self.phase != "open" or list(e) != fields:
            return "a malformed ballot, or one outside the voting period"
        if e["sealed_by"] == "server":
            if e["sealing_code"] is not None:
                return "a ballot the server sealed names a sealing code"
            self.sealing["server"][0] += 1
        elif e["sealed_by"] == "member":
            problem = self.sealed_with(e["sealing_code"], 0)
            if problem:
                return problem
        else:
            return "a ballot sealed by neither the member nor the server"
        local = e["local"]
        if local not in self.locals or e["receipt"] in self.receipts:
            return "a ballot of no local, or a receipt twice"
        if not RECEIPT.match(e["receipt"]):
            return "a receipt that is not seven groups of four Crockford base32 characters"
        self.receipts.add(e["receipt"])
        bound = v2.context_key(self.key, self.election, local)
        cts = v2.ballot_valid(bound, v2.encode(bound), len(self.choices), e["ballot"])
        if cts is None:
            return "the ballot's proofs do not verify"
        tracker = hashlib.sha256(b"".join(v2.encode(r) + v2.encode(b) for r, b in cts)).digest()
        if tracker in self.trackers:
            return "a copied ballot"
        self.trackers.add(tracker)
        self.cast[local] = self.cast.get(local, 0) + 1
        if self.cast[local] > self.eligible.get(local, 0):
            return "more ballots than members in local " + local
        self.sums[local] = [(v2.add(s[0], c[0]), v2.add(s[1], c[1]))
                            for s, c in zip(self.sums[local], cts)]

    def sums_under_key(self, code):
        """A local's sum (sealed under its context key) as ciphertexts under the election key."""
        return [v2.unbind(ct, self.election, code) for ct in self.sums[code]]

    def close(self, e):
        if self.phase != "open":
            return "the vote closes without being open"
        if e["at"] < self.opened_at:
            return "the vote closes before it opened"
        early, by = e["at"] < self.d["closes_at"], rules.official(self.last_admin["by"])
        if early and by == "schedule":
            return "the schedule closes the vote before closes_at"
        if (early and by == "person" and self.d.get("two_person_rule", True)
                and "approved_by" not in self.last_admin):
            return "an official closes the vote early with no second official's approval"
        self.phase = "closed"
        size = self.index + 1
        self.closed = {"size": size, "root": base64.b64encode(mth(self.leaves[:size])).decode()}

    def units(self):
        """The totals to open ("Small locals" in docs/LOG_FORMAT.md): a list of (code, locals),
        the locals opened alone in the definition's order, then the group; None when the
        whole election has ballots but fewer than the minimum."""
        small = self.d["small_locals"]
        least = small["min_ballots"]
        n = {code: self.cast.get(code, 0) for code in self.locals}
        group = [c for c in self.locals if 0 < n[c] < least]
        while group and sum(n[c] for c in group) < least:
            rest = [c for c in self.locals if n[c] > 0 and c not in group]
            if not rest:
                return None
            group.append(min(rest, key=lambda c: n[c]))  # the first of the fewest
        alone = [(c, [c]) for c in self.locals if n[c] > 0 and c not in group]
        merged = [(small["code"], [c for c in self.locals if c in group])] if group else []
        return alone + merged

    def unit_sums(self, locals_):
        """A total's sums under the election key: its locals' converted sums added up."""
        total = [(v2.IDENTITY, v2.IDENTITY)] * len(self.choices)
        for code in locals_:
            total = [(v2.add(t[0], c[0]), v2.add(t[1], c[1]))
                     for t, c in zip(total, self.sums_under_key(code))]
        return total

    def tally_share(self, e):
        teller = self.teller(e)
        if self.phase != "closed" or self.opened or teller is None or any(
                s[0] == teller for s in self.shares):
            return "a decryption share out of place"
        units = self.units()
        if units is None:
            return "a decryption share though the election has too few ballots to open"
        shares = e["shares"]
        if sorted(shares) != sorted(code for code, _ in units):
            return "the shares do not cover exactly the totals to open"
        points = {}
        for code, locals_ in units:
            if len(shares[code]) != len(self.choices):
                return "the shares do not cover every choice"
            points[code] = []
            for ct, item in zip(self.unit_sums(locals_), shares[code]):
                dh = v2.element(item["share"]["dh_element"])[0]
                if not v2.share_valid(self.n, self.t, self.key_bytes, teller - 1,
                                      self.participants[teller - 1], ct, dh, item["proof"]):
                    return "teller %d's decryption share does not verify" % teller
                points[code].append(dh)
        if e["closed"] != self.closed:
            return "teller %d's shares are bound to another log" % teller
        if not self.teller_signed(e):
            return "teller %d's shares are not signed by its identity key" % teller
        self.shares.append((teller, points))

    def result(self, e):
        if self.phase != "closed" or self.opened:
            return "a result out of place"
        used = self.shares[:self.t]
        if len(used) < self.t or e["tellers"] != [teller for teller, _ in used]:
            return "the result is not opened by the first %d tellers' shares" % self.t
        units = self.units()
        if units is None:
            return "a result though the election has too few ballots to open"
        if e["sums"] != {code: [v2.ciphertext_text(ct) for ct in self.unit_sums(locals_)]
                         for code, locals_ in units}:
            return "the result's sums are not the ballots' sums"
        weights = v2.lagrange_at_zero([teller - 1 for teller, _ in used])
        counts = {}
        for code, locals_ in units:
            counts[code] = {"yes": 0, "no": 0, "abstain": 0}
            most = sum(self.cast.get(c, 0) for c in locals_)
            for k, (ct, choice) in enumerate(zip(self.unit_sums(locals_), self.choices)):
                combined = v2.IDENTITY
                for w, (_, points) in zip(weights, used):
                    combined = v2.add(combined, v2.mul(w, points[code][k]))
                target, m, acc = v2.sub(ct[1], combined), 0, v2.IDENTITY
                while not v2.same(acc, target):
                    m, acc = m + 1, v2.add(acc, v2.G)
                    if m > most:
                        return "total %s's sum does not open to a count" % code
                counts[code][choice] += m
        problem = self.outcome(e, counts, units)
        self.opened = True
        return problem

    def outcome(self, e, counts, units):
        d = self.d
        local_rule = d["local_threshold"] or d["threshold"]
        zero = {"yes": 0, "no": 0, "abstain": 0}
        group_code, grouped = units[-1] if units and units[-1][0] == d["small_locals"]["code"] \
            else (None, [])
        group = None
        if grouped:
            g = counts[group_code]
            group = {"code": group_code, "locals": grouped,
                     "eligible": sum(self.eligible[c] for c in grouped), **g,
                     "passed": met(local_rule, g["yes"], g["yes"] + g["no"])}
        if e["group"] != group:
            return "the result's group of small locals is not what the shares open: %s" % group
        total = {"yes": 0, "no": 0, "abstain": 0}
        delegates_yes = delegates_all = eligible_all = 0
        for local in d["locals"]:
            code = local["code"]
            if code in grouped:
                passed = group["passed"]
                shown = {"cast": self.cast.get(code, 0), "group": group_code}
            else:
                c = counts.get(code, zero)
                passed = met(local_rule, c["yes"], c["yes"] + c["no"])
                shown = dict(c)
                for k in total:
                    total[k] += c[k]
            won = local["delegates"] if passed else 0
            expected = {"eligible": self.eligible[code], **shown, "delegates_yes": won,
                        "delegates_no": local["delegates"] - won, "passed": passed}
            if e["locals"].get(code) != expected:
                return "the result for local %s is not what the shares open: %s" % (code, expected)
            delegates_yes += won
            delegates_all += local["delegates"]
            eligible_all += self.eligible[code]
        if group:
            for k in total:
                total[k] += group[k]
        quorum = met(d["quorum"], sum(total.values()), eligible_all)
        popular = met(d["threshold"], total["yes"], total["yes"] + total["no"])
        delegates = met(d["threshold"], delegates_yes, delegates_all)
        decided = (popular if d["rule"] == "popular" else delegates) and quorum
        expected = {"eligible": eligible_all, **total, "quorum_met": quorum, "passed": popular}
        if e["popular"] != expected or e["delegates"] != {
                "yes": delegates_yes, "no": delegates_all - delegates_yes, "passed": delegates}:
            return "the result's totals are not what the shares open"
        if e["outcome"] != ("passed" if decided else "failed"):
            return "the result's outcome is not the rule's"
        return None


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        fail("usage: verify_bundle.py BUNDLE_DIR --key KEY [--origin ORIGIN] | --trust-bundle-key")
    options = {"key": None, "origin": None, "trust_bundle_key": False}
    rest = args[1:]
    while rest:
        flag = rest.pop(0)
        if flag == "--trust-bundle-key":
            options["trust_bundle_key"] = True
        elif flag in ("--key", "--origin") and rest:
            options[flag[2:]] = rest.pop(0)
        else:
            fail("unknown argument " + flag)
    main(args[0], **options)
