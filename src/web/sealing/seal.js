// Sealing a ballot in the member's browser, and checking sealed ballots: log format v7's
// ballot cryptography (docs/LOG_FORMAT.md, "Ballots" and "Challenges") in JavaScript.
//
// Only the protocol is written here. The group (Ristretto255, RFC 9496) is @noble/curves',
// the hashes (SHA-2, the Keccak-f[1600] permutation) are @noble/hashes'; both are audited.
// What this file adds is what elastic-elgamal does on the server: Merlin transcripts (over
// STROBE-128 over Keccak-f[1600]), the one-of-n choice with its ring and sum proofs, the
// binding of a ballot to its election and local, the tracker, and the check of a challenged
// ballot against the randomness it reveals. The server's Rust core checks every ballot this
// code seals; this code checks ballots the core sealed (tests/sealing).

import { ristretto255 } from '@noble/curves/ed25519.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { keccakP } from '@noble/hashes/sha3.js';

const Point = ristretto255.Point;
const Fn = Point.Fn;
const L = Fn.ORDER;
const G = Point.BASE;
const encoder = new TextEncoder();
const bytes = (text) => encoder.encode(text);

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // The permutation is applied to the state's bytes read as little-endian words.
  throw new Error('this code runs on little-endian machines only');
}

// --- STROBE-128, as Merlin uses it ------------------------------------------------------------
const RATE = 166;
const FLAG_I = 1;
const FLAG_A = 2;
const FLAG_C = 4;
const FLAG_M = 16;

class Strobe {
  constructor(protocol) {
    this.st = new Uint8Array(200);
    this.words = new Uint32Array(this.st.buffer);
    this.st.set([1, RATE + 2, 1, 0, 1, 96]);
    this.st.set(bytes('STROBEv1.0.2'), 6);
    keccakP(this.words);
    this.pos = 0;
    this.posBegin = 0;
    this.flags = 0;
    this.metaAd(protocol, false);
  }

  clone() {
    const copy = Object.create(Strobe.prototype);
    copy.st = this.st.slice();
    copy.words = new Uint32Array(copy.st.buffer);
    copy.pos = this.pos;
    copy.posBegin = this.posBegin;
    copy.flags = this.flags;
    return copy;
  }

  runF() {
    this.st[this.pos] ^= this.posBegin;
    this.st[this.pos + 1] ^= 0x04;
    this.st[RATE + 1] ^= 0x80;
    keccakP(this.words);
    this.pos = 0;
    this.posBegin = 0;
  }

  absorb(data) {
    for (const b of data) {
      this.st[this.pos] ^= b;
      this.pos += 1;
      if (this.pos === RATE) this.runF();
    }
  }

  squeeze(n) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 1) {
      out[i] = this.st[this.pos];
      this.st[this.pos] = 0;
      this.pos += 1;
      if (this.pos === RATE) this.runF();
    }
    return out;
  }

  begin(flags, more) {
    if (more) {
      if (this.flags !== flags) throw new Error('STROBE: continued operation changed flags');
      return;
    }
    const oldBegin = this.posBegin;
    this.posBegin = this.pos + 1;
    this.flags = flags;
    this.absorb([oldBegin, flags]);
    if ((flags & FLAG_C) !== 0 && this.pos !== 0) this.runF();
  }

  metaAd(data, more) {
    this.begin(FLAG_M | FLAG_A, more);
    this.absorb(data);
  }

  ad(data, more) {
    this.begin(FLAG_A, more);
    this.absorb(data);
  }

  prf(n) {
    this.begin(FLAG_I | FLAG_A | FLAG_C, false);
    return this.squeeze(n);
  }
}

const u32le = (n) => new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);

/** A Merlin transcript (merlin 3.0, as elastic-elgamal's proofs use it). */
export class Transcript {
  constructor(label) {
    if (label === undefined) return;
    this.strobe = new Strobe(bytes('Merlin v1.0'));
    this.append('dom-sep', bytes(label));
  }

  clone() {
    const copy = new Transcript();
    copy.strobe = this.strobe.clone();
    return copy;
  }

  append(label, message) {
    this.strobe.metaAd(bytes(label), false);
    this.strobe.metaAd(u32le(message.length), true);
    this.strobe.ad(message, false);
  }

  appendU64(label, value) {
    const out = new Uint8Array(8);
    let v = BigInt(value);
    for (let i = 0; i < 8; i += 1) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    this.append(label, out);
  }

  challengeBytes(label, n) {
    this.strobe.metaAd(bytes(label), false);
    this.strobe.metaAd(u32le(n), true);
    return this.strobe.prf(n);
  }

  /** elastic-elgamal's challenge: 64 bytes read little-endian, reduced modulo the order. */
  challengeScalar(label) {
    return Fn.create(leToBigint(this.challengeBytes(label, 64)));
  }
}

// --- Encodings ----------------------------------------------------------------------------------
function leToBigint(data) {
  let v = 0n;
  for (let i = data.length - 1; i >= 0; i -= 1) v = (v << 8n) | BigInt(data[i]);
  return v;
}

function scalarBytes(s) {
  const out = new Uint8Array(32);
  let v = s;
  for (let i = 0; i < 32; i += 1) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64url without padding (how the log writes every element and scalar). */
export function b64(data) {
  let out = '';
  for (let i = 0; i < data.length; i += 3) {
    const n = (data[i] << 16) | ((data[i + 1] ?? 0) << 8) | (data[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((data.length - i) * 8) / 6));
    for (let k = 0; k < chars; k += 1) out += B64[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

/** Reads canonical unpadded base64url of exactly `size` bytes; throws otherwise. */
export function unb64(text, size = 32) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new Invalid('not unpadded base64url');
  }
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    acc = (acc << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
      acc &= (1 << bits) - 1;
    }
  }
  const data = new Uint8Array(out);
  if (data.length !== size || b64(data) !== text) {
    throw new Invalid(`not a canonical ${size}-byte base64url value`);
  }
  return data;
}

/** Something in a ballot or a challenge that is not what the format says. */
export class Invalid extends Error {}

function element(text) {
  try {
    return Point.fromBytes(unb64(text));
  } catch (e) {
    if (e instanceof Invalid) throw e;
    throw new Invalid('not a Ristretto255 element');
  }
}

function scalar(text) {
  const v = leToBigint(unb64(text));
  if (v >= L) throw new Invalid('a scalar is not reduced');
  return v;
}

function hex(data) {
  return Array.from(data, (b) => b.toString(16).padStart(2, '0')).join('');
}

// --- Group helpers (public scalars may be zero; noble's multiply wants 1..L-1) ----------------
const mulPublic = (p, s) => (s === 0n ? Point.ZERO : p.multiplyUnsafe(s));
const mulSecret = (p, s) => (s === 0n ? Point.ZERO : p.multiply(s));

function randomScalar() {
  const wide = new Uint8Array(64);
  globalThis.crypto.getRandomValues(wide);
  return Fn.create(leToBigint(wide));
}

/** s·base − c·point (the commitment every proof check recomputes). */
const recompute = (s, base, c, point) => mulPublic(base, s).subtract(mulPublic(point, c));

// --- Binding to the election and the local -----------------------------------------------------
export const CONTEXT_LABEL = 'strikevote ballot context v3\n';

/** h = SHA-512(label ‖ election uuid ‖ "\n" ‖ local), little-endian, modulo the order. */
export function contextScalar(election, local) {
  const digest = sha512(bytes(`${CONTEXT_LABEL}${election}\n${local}`));
  return Fn.create(leToBigint(digest));
}

/** The key a ballot of this election and local is sealed to: K + h·G. */
export function contextKey(electionKey, election, local) {
  const key = typeof electionKey === 'string' ? element(electionKey) : electionKey;
  return key.add(mulPublic(G, contextScalar(election, local)));
}

// --- Sealing -----------------------------------------------------------------------------------
function ciphertextText(r, b) {
  return { random_element: b64(r.toBytes()), blinded_element: b64(b.toBytes()) };
}

/**
 * Seals option `choice` (0-based) of `options` for `election` and `local` under the election
 * key (base64url). Returns the sealed ballot (the JSON the server takes), its tracker, and the
 * secrets a challenge reveals: the choice and each ciphertext's randomness.
 */
export function seal(electionKey, election, local, options, choice) {
  if (!Number.isInteger(options) || options < 1 || options > 64) {
    throw new Invalid('a ballot has 1 to 64 options');
  }
  if (!Number.isInteger(choice) || choice < 0 || choice >= options) {
    throw new Invalid('the choice is not one of the options');
  }
  const key = contextKey(electionKey, election, local);
  const keyBytes = key.toBytes();
  const randomness = [];
  const cts = [];
  for (let i = 0; i < options; i += 1) {
    const r = randomScalar();
    randomness.push(r);
    const blinded = mulSecret(key, r);
    cts.push([mulSecret(G, r), i === choice ? blinded.add(G) : blinded]);
  }
  const ballot = {
    choices: cts.map(([r, b]) => ciphertextText(r, b)),
    range_proof: rangeProof(key, keyBytes, cts, randomness, choice),
    sum_proof: sumProof(key, keyBytes, cts, randomness),
  };
  return {
    ballot,
    tracker: tracker(ballot),
    secrets: { choice, randomness: randomness.map((r) => b64(scalarBytes(r))) },
  };
}

/** The proof that the ciphertexts add up to an encryption of 1 (a log-equality proof). */
function sumProof(key, keyBytes, cts, randomness) {
  const sumR = cts.reduce((acc, [r]) => acc.add(r), Point.ZERO);
  const sumB = cts.reduce((acc, [, b]) => acc.add(b), Point.ZERO);
  const total = randomness.reduce((acc, r) => Fn.add(acc, r), 0n);
  const x = randomScalar();
  const t = new Transcript('choice_encryption_sum');
  t.append('dom-sep', bytes('log_eq'));
  t.append('K', keyBytes);
  t.append('[r]G', sumR.toBytes());
  t.append('[r]K', sumB.subtract(G).toBytes());
  t.append('[x]G', mulSecret(G, x).toBytes());
  t.append('[x]K', mulSecret(key, x).toBytes());
  const c = t.challengeScalar('c');
  return {
    challenge: b64(scalarBytes(c)),
    response: b64(scalarBytes(Fn.add(x, Fn.mul(c, total)))),
  };
}

/**
 * The proof that each ciphertext encrypts 0 or 1: one two-member ring per ciphertext, all
 * closed by one common challenge (elastic-elgamal's `RangeProof` of a one-of-n choice).
 */
function rangeProof(key, keyBytes, cts, randomness, choice) {
  const t = new Transcript('encrypted_choice_ranges');
  t.append('dom-sep', bytes('multi_ring_enc'));
  t.append('K', keyBytes);
  const initial = t.clone();
  const rings = cts.map(([r, b], i) => {
    const ringT = initial.clone();
    ringT.append('dom-sep', bytes('ring_enc'));
    ringT.append('enc', concat(r.toBytes(), b.toBytes()));
    ringT.appendU64('i', i);
    const x = randomScalar();
    const ring = { r, b, ringT, x, value: i === choice ? 1 : 0 };
    if (ring.value === 0) {
      // The true member first: its commitment gives the second member's challenge, whose
      // response is simulated.
      ring.c1 = memberChallenge(ringT, mulSecret(G, x), mulSecret(key, x));
      ring.s1 = randomScalar();
      t.append('R_G', recompute(ring.s1, G, ring.c1, r).toBytes());
      t.append('R_K', recompute(ring.s1, key, ring.c1, b.subtract(G)).toBytes());
    } else {
      t.append('R_G', mulSecret(G, x).toBytes());
      t.append('R_K', mulSecret(key, x).toBytes());
    }
    return ring;
  });
  const common = t.challengeScalar('c');
  const responses = [];
  rings.forEach((ring, i) => {
    const secret = randomness[i];
    if (ring.value === 0) {
      responses.push(Fn.add(ring.x, Fn.mul(common, secret)), ring.s1);
    } else {
      // The first member simulated under the common challenge, then the true one closed.
      const s0 = randomScalar();
      const c1 = memberChallenge(
        ring.ringT,
        recompute(s0, G, common, ring.r),
        recompute(s0, key, common, ring.b),
      );
      responses.push(s0, Fn.add(ring.x, Fn.mul(c1, secret)));
    }
  });
  return {
    common_challenge: b64(scalarBytes(common)),
    ring_responses: responses.map((s) => b64(scalarBytes(s))),
  };
}

/** The challenge passed from a ring's first member (value 0) to its second (value 1). */
function memberChallenge(ringT, rg, rk) {
  const eq = ringT.clone();
  eq.appendU64('j', 0);
  eq.append('R_G', rg.toBytes());
  eq.append('R_K', rk.toBytes());
  return eq.challengeScalar('c');
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// --- Checking ----------------------------------------------------------------------------------
function ciphertexts(ballot, options) {
  const keysOf = (o) => (o && typeof o === 'object' && !Array.isArray(o) ? Object.keys(o) : []);
  if (keysOf(ballot).join() !== 'choices,range_proof,sum_proof' || !Array.isArray(ballot.choices)) {
    throw new Invalid('not a sealed ballot');
  }
  if (ballot.choices.length !== options) throw new Invalid('not one ciphertext per option');
  return ballot.choices.map((c) => {
    if (keysOf(c).join() !== 'random_element,blinded_element') throw new Invalid('not a ciphertext');
    return [element(c.random_element), element(c.blinded_element)];
  });
}

/**
 * Checks a sealed ballot's proofs for `options` options, bound to `election` and `local`,
 * under the election key: true only if each ciphertext encrypts 0 or 1 and they add up to 1.
 */
export function verify(electionKey, election, local, options, ballot) {
  try {
    return check(contextKey(electionKey, election, local), options, ballot);
  } catch (e) {
    if (e instanceof Invalid) return false;
    throw e;
  }
}

function check(key, options, ballot) {
  const keyBytes = key.toBytes();
  const cts = ciphertexts(ballot, options);
  const sumR = cts.reduce((acc, [r]) => acc.add(r), Point.ZERO);
  const sumB = cts.reduce((acc, [, b]) => acc.add(b), Point.ZERO).subtract(G);
  const sum = ballot.sum_proof ?? {};
  const c = scalar(sum.challenge);
  const s = scalar(sum.response);
  const t = new Transcript('choice_encryption_sum');
  t.append('dom-sep', bytes('log_eq'));
  t.append('K', keyBytes);
  t.append('[r]G', sumR.toBytes());
  t.append('[r]K', sumB.toBytes());
  t.append('[x]G', recompute(s, G, c, sumR).toBytes());
  t.append('[x]K', recompute(s, key, c, sumB).toBytes());
  if (t.challengeScalar('c') !== c) return false;

  const range = ballot.range_proof ?? {};
  const common = scalar(range.common_challenge);
  const responses = Array.isArray(range.ring_responses) ? range.ring_responses.map(scalar) : [];
  if (responses.length !== 2 * options) return false;
  const rt = new Transcript('encrypted_choice_ranges');
  rt.append('dom-sep', bytes('multi_ring_enc'));
  rt.append('K', keyBytes);
  const initial = rt.clone();
  cts.forEach(([r, b], i) => {
    const ringT = initial.clone();
    ringT.append('dom-sep', bytes('ring_enc'));
    ringT.append('enc', concat(r.toBytes(), b.toBytes()));
    ringT.appendU64('i', i);
    const c1 = memberChallenge(
      ringT,
      recompute(responses[2 * i], G, common, r),
      recompute(responses[2 * i], key, common, b),
    );
    rt.append('R_G', recompute(responses[2 * i + 1], G, c1, r).toBytes());
    rt.append('R_K', recompute(responses[2 * i + 1], key, c1, b.subtract(G)).toBytes());
  });
  return rt.challengeScalar('c') === common;
}

/** SHA-256 of the ciphertexts' encodings in order (each random element, then blinded), hex. */
export function tracker(ballot) {
  const parts = ballot.choices.flatMap((c) => [unb64(c.random_element), unb64(c.blinded_element)]);
  const all = new Uint8Array(parts.length * 32);
  parts.forEach((p, i) => all.set(p, 32 * i));
  return hex(sha256(all));
}

/**
 * Checks a challenged ballot: its proofs hold, and each ciphertext is exactly what its revealed
 * randomness makes for the stated choice — `(r·G, r·K_c)`, plus `G` in the chosen position.
 * Returns true only if the ballot holds that choice.
 */
export function checkChallenge(electionKey, election, local, options, ballot, choice, randomness) {
  try {
    const key = contextKey(electionKey, election, local);
    if (!check(key, options, ballot)) return false;
    if (!Number.isInteger(choice) || choice < 0 || choice >= options) return false;
    if (!Array.isArray(randomness) || randomness.length !== options) return false;
    return ciphertexts(ballot, options).every(([r, b], i) => {
      const secret = scalar(randomness[i]);
      const blinded = mulPublic(key, secret);
      return (
        r.equals(mulPublic(G, secret)) && b.equals(i === choice ? blinded.add(G) : blinded)
      );
    });
  } catch (e) {
    if (e instanceof Invalid) return false;
    throw e;
  }
}

/**
 * The tracker of the ballot that `randomness` (one base64url scalar per option) seals for
 * option `choice` (0-based) of `options`, bound to `election` and `local`: a challenge entry
 * holds exactly when this is the tracker its member was shown (docs/LOG_FORMAT.md, "Sealing on
 * the member's device, and challenges"). Throws Invalid on malformed input.
 */
export function resealedTracker(electionKey, election, local, options, choice, randomness) {
  if (!Number.isInteger(choice) || choice < 0 || choice >= options) {
    throw new Invalid('the choice is not one of the options');
  }
  if (!Array.isArray(randomness) || randomness.length !== options) {
    throw new Invalid('not one randomness per option');
  }
  const key = contextKey(electionKey, election, local);
  const all = new Uint8Array(64 * options);
  randomness.forEach((text, i) => {
    const secret = scalar(text);
    const blinded = mulPublic(key, secret);
    all.set(mulPublic(G, secret).toBytes(), 64 * i);
    all.set((i === choice ? blinded.add(G) : blinded).toBytes(), 64 * i + 32);
  });
  return hex(sha256(all));
}
