// Builds the code the ballot page serves (src/web/static/sealing.js) from index.js (seal.js,
// page.js) and the pinned @noble packages (package-lock.json). The same sources and the same esbuild version
// give the same bytes: tests/api/sealing.rs rebuilds it into a temporary file and compares,
// and the log names those bytes by their SHA-256.
//
//   npm ci --prefix src/web/sealing && node src/web/sealing/build.mjs [OUT]
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? path.join(here, '..', 'static', 'sealing.js');

await build({
  absWorkingDir: here,
  entryPoints: ['index.js'],
  bundle: true,
  format: 'esm',
  target: 'es2020',
  platform: 'browser',
  charset: 'utf8',
  legalComments: 'inline',
  minify: false,
  sourcemap: false,
  outfile: out,
  logLevel: 'warning',
  banner: {
    js: '// strikevote: the code that seals ballots in the member\'s browser. Built by\n// src/web/sealing/build.mjs from seal.js, page.js and @noble/curves, @noble/hashes (audited);\n// do not edit: rebuild. Its SHA-256 is named in the election\'s log.',
  },
});
