// The one file ballot pages load (built into src/web/static/sealing.js, named in the log by its
// SHA-256): the protocol (seal.js) for anyone who imports it, and the ballot page's behaviour
// and the challenge checker's (page.js) when it runs in a page.
import { initBallotPage, initCheckPage } from './page.js';

export * from './seal.js';

if (typeof document !== 'undefined') {
  initBallotPage(document);
  initCheckPage(document);
}
