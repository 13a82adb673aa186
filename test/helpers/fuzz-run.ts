// Sends fuzz requests to a controller on loopback and checks each answer and, after each
// request, the store's invariants. Shared by the suite's bounded run and the large benchmark.
import type { RunningController } from '../../src/controller/server.js';
import { answerProblem, type FuzzRequest, type Who } from './api-fuzz.js';
import { storeProblems } from './store-invariants.js';

const PASSWORDS: Record<Who, string> = { admin: 'a', alice: 'pw-a', bob: 'pw-b', nova: 'pw-n' };

/** The projects of the fixture's users (test/controller/fixture.ts). */
export const FUZZ_PROJECTS = ['admin', 's0m3-u53r-1d', 'other-project', 'service'];

export interface FuzzTally {
  requests: number;
  byStatus: Map<number, number>;
}

/** Sends one request; returns what is wrong with the answer or the store afterwards. */
export async function sendAndCheck(ctl: RunningController, req: FuzzRequest, tally: FuzzTally, checkStore = true): Promise<string | undefined> {
  const auth = `Basic ${Buffer.from(`${req.who}:${PASSWORDS[req.who]}`).toString('base64')}`;
  const res = await fetch(`${ctl.url}${req.path}`, {
    method: req.method,
    headers: { authorization: auth, 'content-type': 'application/json' },
    ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) ?? 'null' }),
  });
  const text = await res.text();
  tally.requests++;
  tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
  const bad = answerProblem(res.status, text);
  if (bad) return `${req.who} ${req.method} ${req.path}: ${bad}`;
  if (!checkStore) return undefined;
  const broken = await storeProblems(ctl.service.store, ctl.service.cfg, FUZZ_PROJECTS);
  return broken.length ? `${req.who} ${req.method} ${req.path} left the store broken: ${broken.join('; ')}` : undefined;
}
