// Runs the served sealing code (src/web/static/sealing.js, the bytes members' phones get) for
// the Rust tests (tests/api/sealing.rs): reads one JSON request per line on stdin, writes one
// JSON answer per line on stdout.
//   {"op":"seal", key, election, local, options, choice}  -> {ballot, tracker, secrets}
//   {"op":"verify", key, election, local, options, ballot} -> {ok}
//   {"op":"challenge", key, election, local, options, ballot, choice, randomness} -> {ok}
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const bundle = process.argv[2] ?? path.join(here, '..', '..', 'src', 'web', 'static', 'sealing.js');
const sealing = await import(pathToFileURL(bundle).href);

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  let answer;
  try {
    switch (r.op) {
      case 'seal':
        answer = sealing.seal(r.key, r.election, r.local, r.options, r.choice);
        break;
      case 'verify':
        answer = { ok: sealing.verify(r.key, r.election, r.local, r.options, r.ballot) };
        break;
      case 'challenge':
        answer = {
          ok: sealing.checkChallenge(r.key, r.election, r.local, r.options, r.ballot, r.choice, r.randomness),
        };
        break;
      default:
        answer = { error: `unknown op ${r.op}` };
    }
  } catch (e) {
    answer = { error: String(e?.message ?? e) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
