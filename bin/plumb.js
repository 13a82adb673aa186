#!/usr/bin/env node
// Entry point for `npx plumb`: runs the compiled CLI (npm run build produces dist/).
//
// CommonJS on purpose (bin/package.json): libuv reads UV_THREADPOOL_SIZE once, when the thread
// pool starts, and Node 20's ESM loader starts it while reading the first module, so only a
// CommonJS entry can still raise it. The agent keeps pool threads parked in blocking calls: the
// rtnetlink notification socket's poll(2), the DHCP and Router Solicitation sockets' recvfrom(2)
// (one each per namespace served), plus the kernel handle's slow requests (device deletions and
// creations, TUNSETIFF: src/kernel/rtnl/offload.ts) and ordinary fs work (a new tap's
// /dev/net/tun close). With libuv's default of 4, three are taken before any work starts, and a
// fourth blocked call would make everything else on the pool wait for a poll timeout (1 s).
// An explicit UV_THREADPOOL_SIZE from the environment wins.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '16';

const main = join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`plumb: ${main} is missing; run "npm run build" first\n`);
  process.exit(2);
}
import(pathToFileURL(main).href).catch((err) => {
  process.stderr.write(`plumb: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
