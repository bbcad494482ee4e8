#!/usr/bin/env python3
"""An independent verifier of a strikevote audit bundle, written from docs/DESIGN.md alone.

It shares no code with strikevote: the standard library only (hashlib, base64, json) and the
RFC 8032 reference arithmetic for Ed25519.

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
import sys

# --- Ed25519 verification (RFC 8032 section 5.1, reference arithmetic) ---
P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, pt):
    acc = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        s >>= 1
    return acc


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
    if not entries or entries[0].get("type") != "election" or entries[0].get("v") != 1:
        fail("entry 0 is not the election")
    election = entries[0]["election"]
    if not origin.endswith("/elections/" + election):
        fail("origin does not name the election")
    phase = "setup"
    TYPES = {"roster", "tokens_issued", "token_reissued", "admin", "open", "ballot", "close", "result",
             "teller_key", "teller_polynomial", "election_key", "teller_ready"}
    for e in entries[1:]:
        if e.get("election") != election or e.get("v") != 1:
            fail("entry of another election or version")
        t = e.get("type")
        if t not in TYPES:
            fail("unknown entry type %r" % (t,))
        if t == "ballot":
            if phase != "open" or set(e) != {"v", "type", "election", "local", "choice", "receipt"}:
                fail("bad ballot entry")
        elif t == "open":
            phase = "open"
        elif t == "close":
            phase = "closed"
    print("OK size=%d root=%s election=%s" % (size, root_b64, election))


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
