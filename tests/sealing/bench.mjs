// Sealing and checking speed of the served code under node (a benchmark, not a test):
//   node tests/sealing/bench.mjs [OPTIONS=3] [ROUNDS=50]
// Prints the first seal (cold: tables built, code compiled) and the median of the rest.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const here = path.dirname(new URL(import.meta.url).pathname);
const s = await import(pathToFileURL(path.join(here, '..', '..', 'src', 'web', 'static', 'sealing.js')).href);
const options = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 50);
const key = s.b64(Uint8Array.from(Buffer.from('44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d', 'hex')));
const election = '0192c7a0-0000-4000-8000-000000000001';

const time = (f) => {
  const t = performance.now();
  const out = f();
  return [performance.now() - t, out];
};
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const [cold, first] = time(() => s.seal(key, election, '871', options, 0));
const seals = [];
const checks = [];
for (let i = 0; i < rounds; i += 1) {
  const [t, sealed] = time(() => s.seal(key, election, '871', options, i % options));
  seals.push(t);
  const [c, ok] = time(() => s.verify(key, election, '871', options, sealed.ballot));
  if (!ok) throw new Error('a sealed ballot did not verify');
  checks.push(c);
}
if (!s.verify(key, election, '871', options, first.ballot)) throw new Error('the first did not verify');
console.log(`${options} options: first seal ${cold.toFixed(1)} ms; then seal ${median(seals).toFixed(1)} ms, check ${median(checks).toFixed(1)} ms (medians of ${rounds})`);
