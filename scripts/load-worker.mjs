// HTTP load generator for the benchmarks, run in a worker thread so it does not share the
// server's event loop. Two modes:
//   closed: CLIENTS keep-alive clients each POST the next request when the previous one answers,
//           TOTAL requests in all (measures saturation throughput; latency ≈ CLIENTS × service time)
//   open:   constant arrival rate (wrk2-style). Request i is scheduled at start + i / RATE and is
//           sent on connection i mod CLIENTS, once that connection's previous request has answered
//           and not before its scheduled time. Latency is measured from the *scheduled* time, so a
//           server that falls behind is charged for the requests it delayed (coordinated omission
//           corrected). A warm-up phase at the same rate precedes the measured one and is not counted.
import { parentPort, workerData } from 'node:worker_threads';
import http from 'node:http';

const { url, urls = [url], mode = 'closed', total = 0, rate = 0, seconds = 0, warmup = 0, clients, auth, bodyKind, networkId, idPrefix = 'vm' } = workerData;
// several servers (controller instances): connection c talks to urls[c mod n]
const targets = urls.map((x) => new URL(x));
// fifo: every connection keeps being used (with the default lifo, a socket left idle past the
// server's 5 s keep-alive timeout is closed under a request: ECONNRESET)
const agent = new http.Agent({ keepAlive: true, maxSockets: clients, scheduling: 'fifo' });
let errors = 0;
let firstError;
let seq = 0;
const body = () => (bodyKind === 'port' ? JSON.stringify({ port: { network_id: networkId, device_id: `${idPrefix}${seq++}` } }) : '{}');

/** One POST on connection `c`; resolves with the completion time (performance.now()). */
const post = (c = 0) =>
  new Promise((resolve) => {
    const b = body();
    const u = targets[c % targets.length];
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { authorization: auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 201) {
          errors++;
          firstError ??= `${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`;
        }
        resolve(performance.now());
      });
    });
    req.on('error', (err) => {
      errors++;
      firstError ??= String(err);
      resolve(performance.now());
    });
    req.end(b);
  });

const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;
const summary = (lat, secs, count) => {
  lat.sort((a, b) => a - b);
  return { count, rate: count / secs, p50: pct(lat, 0.5), p90: pct(lat, 0.9), p99: pct(lat, 0.99), p999: pct(lat, 0.999), max: lat[lat.length - 1] ?? NaN, errors, firstError };
};

const sleepUntil = (t) => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

async function closed() {
  const lat = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (next < total) {
        next++;
        const t = performance.now();
        lat.push((await post(c)) - t);
      }
    }),
  );
  return summary(lat, (performance.now() - start) / 1000, total);
}

/** Open loop for `secs` seconds at `rate`/s over `clients` connections; returns latencies from the schedule. */
async function openPhase(secs) {
  const n = Math.round(rate * secs);
  const interval = 1000 / rate;
  const lat = new Array(n);
  const start = performance.now() + 5;
  let lastDone = start;
  let late = 0; // requests sent more than 1 ms after their scheduled time (connection busy or generator lag)
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = c; i < n; i += clients) {
        const scheduled = start + i * interval;
        // timers may fire a fraction of a millisecond early: never send before the schedule
        while (performance.now() < scheduled) await sleepUntil(scheduled);
        if (performance.now() - scheduled > 1) late++;
        const done = await post(c);
        lat[i] = done - scheduled;
        if (done > lastDone) lastDone = done;
      }
    }),
  );
  const out = summary(lat, (lastDone - start) / 1000, n);
  return { ...out, offered: rate, seconds: secs, late };
}

let result;
if (mode === 'open') {
  if (warmup > 0) await openPhase(warmup);
  errors = 0;
  firstError = undefined;
  result = await openPhase(seconds);
} else {
  result = await closed();
}
agent.destroy();
parentPort.postMessage(result);
