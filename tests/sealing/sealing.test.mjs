// The served sealing code on its own (node --test tests/sealing): Merlin's published test
// vector, the encodings, and sealing, checking and challenges round trip; tampering is caught.
// The cross-implementation tests (this code against the Rust core) are in tests/api/sealing.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const here = path.dirname(new URL(import.meta.url).pathname);
const s = await import(pathToFileURL(path.join(here, '..', '..', 'src', 'web', 'static', 'sealing.js')).href);

const te = new TextEncoder();
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
// An election key: a valid Ristretto255 element (the encoding of 7·G, from RFC 9496's table).
const KEY = s.b64(Uint8Array.from(Buffer.from('44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d', 'hex')));
const ELECTION = '0192c7a0-0000-4000-8000-000000000001';

test('Merlin transcripts match the merlin crate\'s test vector', () => {
  const t = new s.Transcript('test protocol');
  t.append('some label', te.encode('some data'));
  assert.equal(hex(t.challengeBytes('challenge', 32)), 'd5a21972d0d5fe320c0d263fac7fffb8145aa640af6e9bca177c03c7efcf0615');
});

test('base64url is unpadded and read only in its canonical form', () => {
  for (let n = 0; n < 40; n += 1) {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    assert.deepEqual(s.unb64(s.b64(data), n), data);
    assert.equal(s.b64(data), Buffer.from(data).toString('base64url'));
  }
  assert.throws(() => s.unb64('AA==', 1), s.Invalid);
  assert.throws(() => s.unb64('AB', 1), s.Invalid); // a non-zero trailing bit
  assert.throws(() => s.unb64('AAAA', 2), s.Invalid);
});

test('a sealed ballot verifies for its election and local only, and its challenge holds its choice only', () => {
  for (const options of [1, 2, 3, 5]) {
    for (let choice = 0; choice < options; choice += 1) {
      const { ballot, tracker, secrets } = s.seal(KEY, ELECTION, '871', options, choice);
      assert.equal(ballot.choices.length, options);
      assert.match(tracker, /^[0-9a-f]{64}$/);
      assert.equal(s.tracker(ballot), tracker);
      assert.ok(s.verify(KEY, ELECTION, '871', options, ballot));
      assert.ok(!s.verify(KEY, ELECTION, '872', options, ballot));
      assert.ok(!s.verify(KEY, '0192c7a0-0000-4000-8000-000000000002', '871', options, ballot));
      assert.ok(!s.verify(KEY, ELECTION, '871', options + 1, ballot));
      assert.ok(s.checkChallenge(KEY, ELECTION, '871', options, ballot, choice, secrets.randomness));
      assert.equal(secrets.choice, choice);
      if (options > 1) {
        const other = (choice + 1) % options;
        assert.ok(!s.checkChallenge(KEY, ELECTION, '871', options, ballot, other, secrets.randomness));
      }
    }
  }
});

test('tampering with any part of a sealed ballot is caught', () => {
  const { ballot } = s.seal(KEY, ELECTION, '871', 3, 2);
  const copy = () => JSON.parse(JSON.stringify(ballot));
  const swapped = copy();
  [swapped.choices[0], swapped.choices[2]] = [swapped.choices[2], swapped.choices[0]];
  assert.ok(!s.verify(KEY, ELECTION, '871', 3, swapped));
  const response = copy();
  response.range_proof.ring_responses[3] = response.range_proof.ring_responses[2];
  assert.ok(!s.verify(KEY, ELECTION, '871', 3, response));
  const sum = copy();
  sum.sum_proof.response = sum.range_proof.ring_responses[0];
  assert.ok(!s.verify(KEY, ELECTION, '871', 3, sum));
  const element = copy();
  element.choices[1].blinded_element = element.choices[0].blinded_element;
  assert.ok(!s.verify(KEY, ELECTION, '871', 3, element));
  const junk = copy();
  junk.choices[1].random_element = '____';
  assert.ok(!s.verify(KEY, ELECTION, '871', 3, junk));
  const extra = copy();
  extra.note = 'x';
  assert.ok(!s.verify(KEY, ELECTION, '871', 3, extra));
  assert.ok(!s.verify(KEY, ELECTION, '871', 3, null));
});

test('nothing but an option number is sealed', () => {
  assert.throws(() => s.seal(KEY, ELECTION, '871', 3, 3), s.Invalid);
  assert.throws(() => s.seal(KEY, ELECTION, '871', 3, -1), s.Invalid);
  assert.throws(() => s.seal(KEY, ELECTION, '871', 0, 0), s.Invalid);
  assert.throws(() => s.seal(KEY, ELECTION, '871', 2, 'yes'), s.Invalid);
});

test('a checked ballot re-seals from its randomness to its tracker, and only for its choice and local', () => {
  for (const options of [2, 3]) {
    for (let choice = 0; choice < options; choice += 1) {
      const sealed = s.seal(KEY, ELECTION, '700', options, choice);
      const { randomness } = sealed.secrets;
      assert.equal(s.resealedTracker(KEY, ELECTION, '700', options, choice, randomness), sealed.tracker);
      const other = (choice + 1) % options;
      assert.notEqual(s.resealedTracker(KEY, ELECTION, '700', options, other, randomness), sealed.tracker);
      assert.notEqual(s.resealedTracker(KEY, ELECTION, '871', options, choice, randomness), sealed.tracker);
    }
  }
  const { secrets } = s.seal(KEY, ELECTION, '700', 2, 0);
  assert.throws(() => s.resealedTracker(KEY, ELECTION, '700', 2, 2, secrets.randomness), s.Invalid);
  assert.throws(() => s.resealedTracker(KEY, ELECTION, '700', 2, 0, secrets.randomness.slice(1)), s.Invalid);
  assert.throws(() => s.resealedTracker(KEY, ELECTION, '700', 2, 0, [`${secrets.randomness[0]}=`, secrets.randomness[1]]), s.Invalid);
});
