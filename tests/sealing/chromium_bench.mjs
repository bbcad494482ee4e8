// Sealing speed of the served code in Debian's headless Chromium, on a CPU throttled 4× (a
// cheap phone), as the ballot page runs it (a benchmark, not a test):
//   node tests/sealing/chromium_bench.mjs [OPTIONS=3] [ROUNDS=20] [THROTTLE=4]
// Serves src/web/static/sealing.js and a page that imports it from a local HTTP server, drives
// Chromium through chromedriver (W3C WebDriver, plus its `goog/cdp/execute` for
// Emulation.setCPUThrottlingRate), and prints the first seal (cold) and the median of the rest.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const code = readFileSync(path.join(here, '..', '..', 'src', 'web', 'static', 'sealing.js'));
const options = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 20);
const throttle = Number(process.argv[4] ?? 4);

const page = `<!DOCTYPE html><title>bench</title><script type="module">
import * as s from '/sealing.js';
const key = s.b64(Uint8Array.from([0x44,0xf5,0x35,0x20,0x92,0x6e,0xc8,0x1f,0xbd,0x5a,0x38,0x78,0x45,0xbe,0xb7,0xdf,0x85,0xa9,0x6a,0x24,0xec,0xe1,0x87,0x38,0xbd,0xcf,0xa6,0xa7,0x82,0x2a,0x17,0x6d]));
window.sealOnce = (choice) => {
  const t = performance.now();
  s.seal(key, '0192c7a0-0000-4000-8000-000000000001', '871', ${options}, choice);
  return performance.now() - t;
};
window.ready = true;
</script>`;
const server = createServer((req, res) => {
  if (req.url === '/sealing.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(code);
  } else {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const site = `http://127.0.0.1:${server.address().port}/`;

const driverPort = 9500 + Math.floor(Math.random() * 400);
const driver = spawn('chromedriver', [`--port=${driverPort}`], { stdio: 'ignore' });
const wd = async (method, route, body) => {
  const res = await fetch(`http://127.0.0.1:${driverPort}${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await res.json();
  if (!res.ok) throw new Error(`${route}: ${JSON.stringify(answer)}`);
  return answer.value;
};
try {
  let session;
  for (let i = 0; i < 50 && !session; i += 1) {
    try {
      session = await wd('POST', '/session', {
        capabilities: {
          alwaysMatch: {
            'goog:chromeOptions': {
              binary: '/usr/bin/chromium',
              args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=412,915'],
            },
          },
        },
      });
    } catch {
      await new Promise((ok) => setTimeout(ok, 200));
    }
  }
  const id = session.sessionId;
  await wd('POST', `/session/${id}/goog/cdp/execute`, { cmd: 'Emulation.setCPUThrottlingRate', params: { rate: throttle } });
  await wd('POST', `/session/${id}/url`, { url: site });
  for (let i = 0; i < 100; i += 1) {
    if (await wd('POST', `/session/${id}/execute/sync`, { script: 'return window.ready === true', args: [] })) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  const seal = (choice) => wd('POST', `/session/${id}/execute/sync`, { script: 'return window.sealOnce(arguments[0])', args: [choice] });
  const cold = await seal(0);
  const times = [];
  for (let i = 0; i < rounds; i += 1) times.push(await seal(i % options));
  times.sort((a, b) => a - b);
  console.log(`Chromium, CPU throttled ${throttle}×, ${options} options: first seal ${cold.toFixed(0)} ms; then median ${times[Math.floor(times.length / 2)].toFixed(0)} ms, slowest ${times[times.length - 1].toFixed(0)} ms (${rounds} seals)`);
  await wd('DELETE', `/session/${id}`);
} finally {
  driver.kill();
  server.close();
}
