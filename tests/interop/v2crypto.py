"""Log format v2's cryptography, written from docs/LOG_FORMAT.md alone: Ristretto255 (RFC 9496)
over the Edwards arithmetic of verify_bundle.py, Merlin transcripts over STROBE-128 over
Keccak-f[1600], and the checks of ballots, the key ceremony and the tellers' decryption shares.
Standard library only; slow and simple on purpose (it checks, it never keeps a secret)."""
import base64
import copy
import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


# --- Keccak-f[1600] (FIPS 202) ---
_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
# Rotation offsets r[x][y].
_ROT = [
    [0, 36, 3, 41, 18],
    [1, 44, 10, 45, 2],
    [62, 6, 43, 15, 61],
    [28, 55, 25, 21, 56],
    [27, 20, 39, 8, 14],
]
_M64 = (1 << 64) - 1


def _rol(v, n):
    return ((v << n) | (v >> (64 - n))) & _M64 if n else v


def keccak_f(state):
    """Permutes a 200-byte bytearray in place."""
    a = [int.from_bytes(state[8 * i:8 * i + 8], "little") for i in range(25)]
    for rc in _RC:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [a[i] ^ d[i % 5] for i in range(25)]
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rol(a[x + 5 * y], _ROT[x][y])
        a = [b[i] ^ ((~b[(i % 5 + 1) % 5 + 5 * (i // 5)]) & b[(i % 5 + 2) % 5 + 5 * (i // 5)])
             for i in range(25)]
        a[0] ^= rc
    for i in range(25):
        state[8 * i:8 * i + 8] = a[i].to_bytes(8, "little")


def _sha3_256(data):
    """SHA3-256 on keccak_f, to check the permutation against hashlib."""
    rate = 136
    padded = bytearray(data) + b"\x06" + bytes((-len(data) - 1) % rate)
    padded[-1] |= 0x80
    state = bytearray(200)
    for k in range(0, len(padded), rate):
        for i in range(rate):
            state[i] ^= padded[k + i]
        keccak_f(state)
    return bytes(state[:32])


assert _sha3_256(b"strikevote") == hashlib.sha3_256(b"strikevote").digest(), "Keccak-f[1600]"


# --- STROBE-128 as Merlin uses it, and Merlin transcripts ---
_R = 166
_I, _A, _C, _T, _M, _K = 1, 2, 4, 8, 16, 32


class Strobe:
    def __init__(self, protocol):
        self.st = bytearray(200)
        self.st[0:6] = bytes([1, _R + 2, 1, 0, 1, 96])
        self.st[6:18] = b"STROBEv1.0.2"
        keccak_f(self.st)
        self.pos = self.pos_begin = self.flags = 0
        self.meta_ad(protocol, False)

    def _run_f(self):
        self.st[self.pos] ^= self.pos_begin
        self.st[self.pos + 1] ^= 0x04
        self.st[_R + 1] ^= 0x80
        keccak_f(self.st)
        self.pos = self.pos_begin = 0

    def _absorb(self, data):
        for byte in data:
            self.st[self.pos] ^= byte
            self.pos += 1
            if self.pos == _R:
                self._run_f()

    def _squeeze(self, n):
        out = bytearray()
        for _ in range(n):
            out.append(self.st[self.pos])
            self.st[self.pos] = 0
            self.pos += 1
            if self.pos == _R:
                self._run_f()
        return bytes(out)

    def _begin(self, flags, more):
        if more:
            assert self.flags == flags
            return
        old_begin = self.pos_begin
        self.pos_begin = self.pos + 1
        self.flags = flags
        self._absorb(bytes([old_begin, flags]))
        if flags & (_C | _K) and self.pos != 0:
            self._run_f()

    def meta_ad(self, data, more):
        self._begin(_M | _A, more)
        self._absorb(data)

    def ad(self, data, more):
        self._begin(_A, more)
        self._absorb(data)

    def prf(self, n):
        self._begin(_I | _A | _C, False)
        return self._squeeze(n)


class Transcript:
    def __init__(self, label):
        self.strobe = Strobe(b"Merlin v1.0")
        self.append(b"dom-sep", label)

    def append(self, label, message):
        self.strobe.meta_ad(label, False)
        self.strobe.meta_ad(len(message).to_bytes(4, "little"), True)
        self.strobe.ad(message, False)

    def append_u64(self, label, value):
        self.append(label, value.to_bytes(8, "little"))

    def challenge_bytes(self, label, n):
        self.strobe.meta_ad(label, False)
        self.strobe.meta_ad(n.to_bytes(4, "little"), True)
        return self.strobe.prf(n)

    def challenge_scalar(self, label):
        """The library's challenge: 64 bytes, little-endian, reduced modulo L."""
        return int.from_bytes(self.challenge_bytes(label, 64), "little") % L

    def clone(self):
        return copy.deepcopy(self)


# --- Edwards25519 points (extended coordinates) and Ristretto255 (RFC 9496) ---
IDENTITY = (0, 1, 1, 0)


def add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def neg(a):
    return (-a[0] % P, a[1], a[2], -a[3] % P)


def sub(a, b):
    return add(a, neg(b))


def mul(s, point):
    s %= L
    acc = IDENTITY
    while s > 0:
        if s & 1:
            acc = add(acc, point)
        point = add(point, point)
        s >>= 1
    return acc


def _negative(x):
    return x % P & 1


def _abs(x):
    x %= P
    return P - x if x & 1 else x


def _sqrt_ratio_m1(u, v):
    r = (u * pow(v, 3, P)) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    check = v * r * r % P
    correct = check == u % P
    flipped = check == -u % P
    flipped_i = check == -u * SQRT_M1 % P
    if flipped or flipped_i:
        r = r * SQRT_M1 % P
    return correct or flipped, _abs(r)


_INVSQRT_A_MINUS_D = _sqrt_ratio_m1(1, (-1 - D) % P)[1]


def decode(b):
    """A Ristretto255 element from its 32-byte encoding; None if it is not canonical."""
    if len(b) != 32:
        return None
    s = int.from_bytes(b, "little")
    if s >= P or _negative(s):
        return None
    ss = s * s % P
    u1 = (1 - ss) % P
    u2 = (1 + ss) % P
    u2_sqr = u2 * u2 % P
    v = (-(D * u1 * u1) - u2_sqr) % P
    was_square, invsqrt = _sqrt_ratio_m1(1, v * u2_sqr % P)
    den_x = invsqrt * u2 % P
    den_y = invsqrt * den_x * v % P
    x = _abs(2 * s * den_x)
    y = u1 * den_y % P
    t = x * y % P
    if not was_square or _negative(t) or y == 0:
        return None
    return (x, y, 1, t)


def encode(point):
    x0, y0, z0, t0 = point
    u1 = (z0 + y0) * (z0 - y0) % P
    u2 = x0 * y0 % P
    _, invsqrt = _sqrt_ratio_m1(1, u1 * u2 * u2 % P)
    den1 = invsqrt * u1 % P
    den2 = invsqrt * u2 % P
    z_inv = den1 * den2 * t0 % P
    if _negative(t0 * z_inv):
        x, y = y0 * SQRT_M1 % P, x0 * SQRT_M1 % P
        den_inv = den1 * _INVSQRT_A_MINUS_D % P
    else:
        x, y, den_inv = x0, y0, den2
    if _negative(x * z_inv):
        y = -y % P
    return _abs(den_inv * (z0 - y)).to_bytes(32, "little")


# The generator: RFC 9496's encoding of the Ed25519 base point.
G = decode(bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"))
assert encode(G).hex() == "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
assert encode(IDENTITY) == bytes(32) and encode(mul(L - 1, G)) == encode(neg(G))


# --- Reading the log's encodings (base64url without padding) ---
class Invalid(Exception):
    pass


def raw(text, size=32):
    if not isinstance(text, str) or "=" in text:
        raise Invalid("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(data) != size or base64.urlsafe_b64encode(data).rstrip(b"=").decode() != text:
        raise Invalid("not a canonical %d-byte base64url value" % size)
    return data


def element(text):
    """(point, its encoding)."""
    data = raw(text)
    point = decode(data)
    if point is None:
        raise Invalid("not a Ristretto255 element")
    return point, data


def scalar(text):
    value = int.from_bytes(raw(text), "little")
    if value >= L:
        raise Invalid("a scalar is not reduced")
    return value


def ciphertext(obj):
    if not isinstance(obj, dict) or list(obj) != ["random_element", "blinded_element"]:
        raise Invalid("not a ciphertext")
    return element(obj["random_element"])[0], element(obj["blinded_element"])[0]


def ciphertext_text(ct):
    return {
        "random_element": base64.urlsafe_b64encode(encode(ct[0])).rstrip(b"=").decode(),
        "blinded_element": base64.urlsafe_b64encode(encode(ct[1])).rstrip(b"=").decode(),
    }


def same(a, b):
    return encode(a) == encode(b)


def _double(c, point, s, base):
    """s*base - c*point."""
    return sub(mul(s, base), mul(c, point))


# --- The proofs ---
def log_equality(transcript, base_bytes, base, powers, proof):
    """Chaum-Pedersen: log_G(powers[0]) == log_base(powers[1])."""
    c, s = scalar(proof["challenge"]), scalar(proof["response"])
    xg = _double(c, powers[0], s, G)
    xk = _double(c, powers[1], s, base)
    transcript.append(b"dom-sep", b"log_eq")
    transcript.append(b"K", base_bytes)
    transcript.append(b"[r]G", encode(powers[0]))
    transcript.append(b"[r]K", encode(powers[1]))
    transcript.append(b"[x]G", encode(xg))
    transcript.append(b"[x]K", encode(xk))
    return transcript.challenge_scalar(b"c") == c


CONTEXT_LABEL = b"strikevote ballot context v3\n"


def context_scalar(election, local):
    """h = SHA-512(label || election uuid || "\n" || local), little-endian, mod L."""
    digest = hashlib.sha512(CONTEXT_LABEL + election.encode() + b"\n" + local.encode()).digest()
    return int.from_bytes(digest, "little") % L


def context_key(key, election, local):
    """The key a ballot of that election and local is sealed to: K + h·G."""
    return add(key, mul(context_scalar(election, local), G))


def unbind(ct, election, local):
    """A ciphertext under the context key, as one under the election key: (R, B − h·R)."""
    r, b = ct
    return (r, sub(b, mul(context_scalar(election, local), r)))


def resealed_tracker(key, election, local, options, choice, randomness):
    """The tracker of the ballot that `randomness` (one base64url scalar per option) seals for
    option `choice` under the context key of `election` and `local`: each ciphertext is
    (r·G, r·Kc), plus G at the chosen option (LOG_FORMAT.md, "Challenges")."""
    if not isinstance(randomness, list) or len(randomness) != options or not 0 <= choice < options:
        raise Invalid("not one randomness per option")
    bound = context_key(key, election, local)
    sealed = b""
    for i, text in enumerate(randomness):
        r = scalar(text)
        blinded = mul(r, bound)
        if i == choice:
            blinded = add(blinded, G)
        sealed += encode(mul(r, G)) + encode(blinded)
    return hashlib.sha256(sealed).hexdigest()


def ballot_valid(key, key_bytes, options, ballot):
    """An EncryptedChoice<Ristretto, SingleChoice>: every ciphertext encrypts 0 or 1 (ring
    proof), and they add up to an encryption of 1 (sum proof). The ciphertexts if valid."""
    if not isinstance(ballot, dict) or list(ballot) != ["choices", "range_proof", "sum_proof"]:
        raise Invalid("not a sealed ballot")
    cts = [ciphertext(c) for c in ballot["choices"]]
    if len(cts) != options:
        return None
    total = (IDENTITY, IDENTITY)
    for r, b in cts:
        total = (add(total[0], r), add(total[1], b))
    if not log_equality(Transcript(b"choice_encryption_sum"), key_bytes, key,
                        (total[0], sub(total[1], G)), ballot["sum_proof"]):
        return None
    ring = ballot["range_proof"]
    common = scalar(ring["common_challenge"])
    responses = [scalar(x) for x in ring["ring_responses"]]
    if len(responses) != 2 * options:
        return None
    t = Transcript(b"encrypted_choice_ranges")
    t.append(b"dom-sep", b"multi_ring_enc")
    t.append(b"K", key_bytes)
    initial = t.clone()
    for i, (r, b) in enumerate(cts):
        ring_t = initial.clone()
        ring_t.append(b"dom-sep", b"ring_enc")
        ring_t.append(b"enc", encode(r) + encode(b))
        ring_t.append_u64(b"i", i)
        challenge = common
        for j, value in enumerate([IDENTITY, G]):
            s = responses[2 * i + j]
            rg = _double(challenge, r, s, G)
            rk = _double(challenge, sub(b, value), s, key)
            if j == 0:
                eq_t = ring_t.clone()
                eq_t.append_u64(b"j", j)
                eq_t.append(b"R_G", encode(rg))
                eq_t.append(b"R_K", encode(rk))
                challenge = eq_t.challenge_scalar(b"c")
        t.append(b"R_G", encode(rg))
        t.append(b"R_K", encode(rk))
    return cts if t.challenge_scalar(b"c") == common else None


def possession(n, t, polynomial, proof):
    """A teller's proof that it knows the secret of every coefficient of its polynomial."""
    tr = Transcript(b"elgamal_share_poly")
    tr.append_u64(b"n", n)
    tr.append_u64(b"t", t)
    tr.append(b"dom-sep", b"multi_pop")
    for _, data in polynomial:
        tr.append(b"K", data)
    c = scalar(proof["challenge"])
    responses = [scalar(x) for x in proof["responses"]]
    if len(responses) != len(polynomial):
        return False
    for (point, _), s in zip(polynomial, responses):
        tr.append(b"R", encode(_double(c, point, s, G)))
    return tr.challenge_scalar(b"c") == c


def share_valid(n, t, shared_bytes, index, participant, ct, share, proof):
    """Teller `index` (0-based) decrypted `ct` with the secret of its key share."""
    tr = Transcript(b"elgamal_decryption_share")
    tr.append_u64(b"n", n)
    tr.append_u64(b"t", t)
    tr.append(b"K", shared_bytes)
    tr.append_u64(b"i", index)
    return log_equality(tr, encode(ct[0]), ct[0], (participant, share), proof)


def lagrange_at_zero(indexes):
    """Coefficients for teller indexes (0-based; their points are index + 1)."""
    out = []
    for i in indexes:
        num, den = 1, 1
        for j in indexes:
            if j != i:
                num = num * (j + 1) % L
                den = den * (j - i) % L
        out.append(num * pow(den, L - 2, L) % L)
    return out
