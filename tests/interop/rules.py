"""The rules an entry 0 definition, an official's name and a teller's age recipient must meet,
written from docs/ELECTION_DEFINITION.md and docs/LOG_FORMAT.md alone (standard library only)
for the independent verifier beside it."""
import base64
import hashlib
import re
from datetime import datetime

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover - Python < 3.9
    ZoneInfo = None

# "Texts" in docs/ELECTION_DEFINITION.md: the characters no text may hold.
_UNSAFE = [(0x0, 0x1F), (0x7F, 0x9F), (0x2028, 0x2029), (0x202A, 0x202E), (0x2066, 0x2069),
           (0x200E, 0x200F), (0x061C, 0x061C), (0x200B, 0x200D), (0x2060, 0x2064),
           (0xFEFF, 0xFEFF), (0x00AD, 0x00AD), (0x034F, 0x034F), (0x115F, 0x1160),
           (0x180E, 0x180E), (0x3164, 0x3164), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB),
           (0xE0000, 0xE007F), (0xFF1D, 0xFF1D)]
CHOICES = ("yes", "no", "abstain")
LOCAL_CODE = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")
LANGUAGE = re.compile(r"[a-z]{2}\Z")


def unsafe(text, line_breaks=False):
    for ch in text:
        if line_breaks and ch == "\n":
            continue
        if any(lo <= ord(ch) <= hi for lo, hi in _UNSAFE):
            return "U+%04X" % ord(ch)
    return None


def text(field, value, most, line_breaks=False):
    """A text: a string, trimmed, 1 to `most` characters, no unsafe character."""
    if not isinstance(value, str) or value != value.strip() or not value:
        return "%s: not a trimmed, non-empty text" % field
    if len(value) > most:
        return "%s: longer than %d characters" % (field, most)
    bad = unsafe(value, line_breaks)
    if bad:
        return "%s: contains %s" % (field, bad)
    return None


def whole(value, lo, hi):
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def fraction(field, f, required=True):
    if f is None:
        return "%s: required" % field if required else None
    if not isinstance(f, dict) or list(f) != ["num", "den", "cmp"]:
        return "%s: not a fraction" % field
    num, den, cmp = f["num"], f["den"], f["cmp"]
    if not whole(den, 1, 2 ** 64 - 1) or not whole(num, 1, den) or cmp not in ("at_least", "more_than"):
        return "%s: not a fraction in (0, 1]" % field
    if num == den and cmp == "more_than":
        return "%s: more_than 1 can never be met" % field
    return None


def time(value):
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value):
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")


def labels(field, given, offered):
    if not isinstance(given, dict):
        return "%s: not an object" % field
    for choice, label in given.items():
        if choice not in offered:
            return "%s.%s: labels only a choice the ballot offers" % (field, choice)
        problem = text("%s.%s" % (field, choice), label, 100)
        if problem:
            return problem
    return None


def definition(d):
    """The first problem `election check` would report, or None."""
    problems = [text("title", d["title"], 200), text("question", d["question"], 2000, True)]
    choices = d["choices"]
    if (not isinstance(choices, list) or len(set(choices)) != len(choices)
            or not set(choices) <= set(CHOICES) or not {"yes", "no"} <= set(choices)):
        problems.append("choices: yes and no, optionally abstain, each once")
    if d["rule"] not in ("popular", "delegates"):
        problems.append("rule: popular or delegates")
    problems.append(fraction("threshold", d["threshold"]))
    problems.append(fraction("local_threshold", d["local_threshold"], d["rule"] == "delegates"))
    problems.append(fraction("quorum", d["quorum"], False))
    opens, closes = time(d["opens_at"]), time(d["closes_at"])
    if opens is None or closes is None or closes <= opens:
        problems.append("closes_at: the vote must close after it opens")
    problems.append(locals_(d))
    problems.append(tellers(d["tellers"]))
    problems.append(small_locals(d))
    if d["contact"] is not None:
        problems.append(text("contact", d["contact"], 300))
    problems.append(time_zone(d["time_zone"]))
    problems.append(labels("labels", d["labels"], choices if isinstance(choices, list) else []))
    problems.append(translations(d["translations"], d["labels"]))
    if "two_person_rule" in d and d["two_person_rule"] is not False:
        problems.append("two_person_rule: present only when false")
    if "witnesses" in d:
        problems.append(witnesses(d["witnesses"]))
    if "reminders" in d:
        problems.append(reminders(d["reminders"], opens, closes))
    return next((p for p in problems if p), None)


def reminders(given, opens, closes):
    """1 to 5 times, each strictly between opens_at and closes_at, in order."""
    if not isinstance(given, list) or not 1 <= len(given) <= 5:
        return "reminders: 1 to 5 times (absent when none)"
    before = None
    for k, value in enumerate(given):
        at = time(value)
        if at is None or opens is None or closes is None or not opens < at < closes:
            return "reminders[%d]: must fall while the vote is open" % k
        if before is not None and at <= before:
            return "reminders[%d]: must come after the reminder before it" % k
        before = at
    return None


def witness_key(vkey):
    """A cosignature/v1 verifier key NAME+KEYID+base64(0x04 || key): (name, key), or None."""
    parts = vkey.split("+", 2) if isinstance(vkey, str) else []
    if len(parts) != 3 or not parts[0] or re.search(r"[\s+]", parts[0]):
        return None
    try:
        data = base64.b64decode(parts[2], validate=True)
    except ValueError:
        return None
    if len(data) != 33 or data[0] != 0x04:
        return None
    key_id = hashlib.sha256(parts[0].encode() + b"\n" + data).digest()[:4]
    return (parts[0], data[1:]) if key_id.hex() == parts[1] else None


def witness_url(url):
    if not isinstance(url, str) or url != url.strip() or url.endswith("/") or re.search(r"\s", url):
        return False
    if url.startswith("https://"):
        host = url[len("https://"):].split("/")[0]
        return bool(host)
    if url.startswith("http://"):
        host = url[len("http://"):].split("/")[0]
        host = host[1:].split("]")[0] if host.startswith("[") else host.split(":")[0]
        return host == "localhost" or host.startswith("127.") or host == "::1"
    return False


def witnesses(w):
    if not isinstance(w, dict) or list(w) != ["quorum", "list"] or not isinstance(w["list"], list):
        return "witnesses: exactly quorum and list"
    names = set()
    if not 1 <= len(w["list"]) <= 10:
        return "witnesses.list: 1 to 10 witnesses"
    for i, one in enumerate(w["list"]):
        if not isinstance(one, dict) or list(one) != ["name", "key", "url"]:
            return "witnesses.list[%d]: exactly name, key and url" % i
        problem = text("witnesses.list[%d].name" % i, one["name"], 100)
        if problem:
            return problem
        key = witness_key(one["key"])
        if key is None:
            return "witnesses.list[%d].key: not a cosignature/v1 verifier key" % i
        if key[0] in names:
            return "witnesses.list[%d].key: names a witness again" % i
        names.add(key[0])
        if not witness_url(one["url"]):
            return "witnesses.list[%d].url: not an https URL (http only to this machine)" % i
    if not whole(w["quorum"], 1, len(w["list"])):
        return "witnesses.quorum: 1 to the number of witnesses"
    return None


def locals_(d):
    given = d["locals"]
    if not isinstance(given, list) or not 1 <= len(given) <= 10000:
        return "locals: 1 to 10000 locals"
    seen = set()
    for i, local in enumerate(given):
        code = local["code"]
        if not isinstance(code, str) or not LOCAL_CODE.match(code) or code in seen:
            return "locals[%d].code: 1-32 letters, digits, `.`, `_`, `-`, unique" % i
        seen.add(code)
        problem = text("locals[%d].name" % i, local["name"], 200)
        if problem:
            return problem
        least = 1 if d["rule"] == "delegates" else 0
        if not whole(local["delegates"], least, 1000000):
            return "locals[%d].delegates: out of range" % i
    return None


def tellers(t):
    if not whole(t["count"], 1, 20) or not whole(t["threshold"], 1, t["count"]):
        return "tellers: count 1-20, threshold 1 to count"
    names = t["names"]
    if names and len(names) != t["count"]:
        return "tellers.names: lists %d names for %d tellers" % (len(names), t["count"])
    for i, name in enumerate(names):
        problem = text("tellers.names[%d]" % i, name, 100)
        if problem:
            return problem
    return None


def small_locals(d):
    s = d["small_locals"]
    if not whole(s["min_ballots"], 1, 1000):
        return "small_locals.min_ballots: 1 to 1000"
    if not isinstance(s["code"], str) or not LOCAL_CODE.match(s["code"]) or s["code"] in [
            l["code"] for l in d["locals"]]:
        return "small_locals.code: a local code no local has"
    return text("small_locals.name", s["name"], 200)


def time_zone(name):
    if not isinstance(name, str) or name != name.strip():
        return "time_zone: not a time zone name"
    if name == "UTC" or ZoneInfo is None:
        return None
    try:
        ZoneInfo(name)
    except Exception:  # unknown key, or a path-like name
        return "time_zone: %r is not a time zone name" % name
    return None


def translations(given, english):
    if not isinstance(given, dict) or len(given) > 20:
        return "translations: at most 20 languages"
    for lang, t in given.items():
        if not LANGUAGE.match(lang) or lang == "en":
            return "translations.%s: a language is a two-letter code other than en" % lang
        problem = (text("translations.%s.title" % lang, t["title"], 200)
                   or text("translations.%s.question" % lang, t["question"], 2000, True)
                   or labels("translations.%s.labels" % lang, t["labels"], list(english)))
        if problem:
            return problem
        if set(t["labels"]) != set(english):
            return "translations.%s.labels: words exactly the choices labels words" % lang
    return None


def official(name):
    """'person', 'console', 'schedule' or 'mail' for an admin entry's `by`; None if no name."""
    if (not isinstance(name, str) or not name or len(name) > 100 or name != name.strip()
            or unsafe(name) or name == "cli:"):
        return None
    if name.startswith("cli:"):
        return "console"
    return name if name in ("schedule", "mail") else "person"


# --- bech32 (BIP 173), to read an age X25519 recipient ---
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def age_recipient(s):
    """Whether `s` is lower-case bech32 (not bech32m) with the part `age` and 32 bytes."""
    if not isinstance(s, str) or s.lower() != s or "1" not in s:
        return False
    hrp, _, data = s.rpartition("1")
    if hrp != "age" or len(data) < 6 or any(c not in _CHARSET for c in data):
        return False
    values = [_CHARSET.index(c) for c in data]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    if _polymod(expanded + values) != 1:
        return False
    bits, acc, out = 0, 0, []
    for v in values[:-6]:
        acc, bits = (acc << 5) | v, bits + 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return len(out) == 32 and bits < 5 and (acc & ((1 << bits) - 1)) == 0
