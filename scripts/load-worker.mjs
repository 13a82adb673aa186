// HTTP load generator for the benchmarks, run in a worker thread so it does not share the
// server's event loop: CLIENTS concurrent keep-alive clients POSTing TOTAL requests.
import { parentPort, workerData } from 'node:worker_threads';
import http from 'node:http';

const { url, total, clients, auth, bodyKind, networkId } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
const u = new URL(url);
const lat = [];
let next = 0;
let errors = 0;
const body = (i) => (bodyKind === 'port' ? JSON.stringify({ port: { network_id: networkId, device_id: `vm${i}` } }) : '{}');
const one = (i) =>
  new Promise((resolve) => {
    const t = performance.now();
    const b = body(i);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { authorization: auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 201) errors++;
        lat.push(performance.now() - t);
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end(b);
  });
const start = performance.now();
await Promise.all(Array.from({ length: clients }, async () => { while (next < total) await one(next++); }));
const secs = (performance.now() - start) / 1000;
lat.sort((a, b) => a - b);
agent.destroy();
parentPort.postMessage({ rate: total / secs, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)], errors });
