// Bus confinement against a real nats-server: a host's credentials allow what its agent needs
// (a pull watch of its own keys on its own consumer names, its own report subjects) and are
// refused everything else. Refusals are the server's own "Permissions Violation" for the exact
// subject; deliveries the server makes on a host's behalf (push consumers, replies) are checked
// at the controller's real subscriptions, after a positive control from the same host arrived.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInbox, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, type NatsServer } from '../../src/bus/nats-server.js';
import { connectBus } from '../../src/bus/connection.js';
import { CONTROLLER_USER, seedPath } from '../../src/bus/credentials.js';
import { DesiredStatePublisher } from '../../src/bus/publisher.js';
import { StatusReporter } from '../../src/bus/reporter.js';
import { BUCKET, STREAM, WATCH_SLOTS, consumerCreateSubject, consumerNextSubject, hostSubjects, inboxPrefix, watchConsumerName } from '../../src/bus/layout.js';
import { hostAccess } from '../../src/bus/server-config.js';
import { FakeHooks, hostDoc } from './fake-hooks.js';
import { until } from '../helpers/until.js';

let server: NatsServer;
let controller: NatsConnection;
let h1: NatsConnection;
const violations: string[] = []; // subjects h1 was refused, as the server reported them
const hooks = new FakeHooks();
let publisher: DesiredStatePublisher;


/** Publish as h1 (with a reply subject, as a request would) and wait for the server's verdict. */
async function refused(subject: string, body = ''): Promise<boolean> {
  h1.publish(subject, body, { reply: createInbox(inboxPrefix('h1')) });
  await h1.flush(); // the server answers a PUB it refuses with -ERR before the PONG ...
  // ... which the client hands to status() listeners a few ticks later
  for (let i = 0; i < 50 && !violations.includes(subject); i++) await new Promise((r) => setTimeout(r, 20));
  return violations.includes(subject);
}

const create = (config: Record<string, unknown>): string => JSON.stringify({ stream_name: STREAM, config: { ack_policy: 'none', filter_subject: hostSubjects('h1'), ...config } });

beforeAll(async () => {
  server = await startNatsServer({ hosts: ['h1', 'h2'] });
  controller = await connectBus({ url: server.url, seedFile: seedPath(server.credsDir, CONTROLLER_USER), name: 'controller' });
  hooks.set('h1', hostDoc('h1', 1, [{ id: 'p1', mac: 'aa:00:01:00:00:01' }]));
  hooks.set('h2', hostDoc('h2', 1, [{ id: 'p2', mac: 'aa:00:01:00:00:02' }]));
  publisher = new DesiredStatePublisher(controller, hooks);
  await publisher.start();
  h1 = await connectBus({ url: server.url, seedFile: seedPath(server.credsDir, 'h1'), name: 'h1', inboxPrefix: inboxPrefix('h1') });
  void (async () => {
    for await (const s of h1.status()) {
      const m = s.type === 'error' ? /Permissions Violation for Publish to "([^"]+)"/.exec(String((s as { error?: unknown }).error)) : null;
      if (m?.[1]) violations.push(m[1]);
    }
  })();
});

afterAll(async () => {
  await publisher?.stop();
  for (const c of [h1, controller]) await c?.close().catch(() => undefined);
  await server?.destroy();
});

describe("a host's bus credentials", () => {
  it("cannot list another host's key names through stream info (issue #18, point 7)", async () => {
    const body = JSON.stringify({ subjects_filter: `$KV.${BUCKET}.h2.>` });
    expect(await refused(`$JS.API.STREAM.INFO.${STREAM}`, body)).toBe(true);
    // the same request from the controller is answered with h2's keys: the refusal is the host's
    const info = (await controller.request(`$JS.API.STREAM.INFO.${STREAM}`, body, { timeout: 2000 })).json<{ state: { subjects?: Record<string, number> } }>();
    expect(Object.keys(info.state.subjects ?? {}).sort()).toEqual([`$KV.${BUCKET}.h2.meta`, `$KV.${BUCKET}.h2.net.n1`, `$KV.${BUCKET}.h2.port.p2`]);
  });

  it('are refused every JetStream API subject not on their list', async () => {
    const allowed = new Set(hostAccess('h1').jsApi);
    const s = STREAM;
    const subjects = [
      '$JS.API.INFO',
      `$JS.API.STREAM.INFO.${s}`,
      `$JS.API.STREAM.CREATE.${s}`,
      `$JS.API.STREAM.UPDATE.${s}`,
      `$JS.API.STREAM.DELETE.${s}`,
      `$JS.API.STREAM.PURGE.${s}`,
      '$JS.API.STREAM.NAMES',
      '$JS.API.STREAM.LIST',
      `$JS.API.STREAM.MSG.GET.${s}`,
      `$JS.API.STREAM.MSG.DELETE.${s}`,
      `$JS.API.STREAM.SNAPSHOT.${s}`,
      `$JS.API.STREAM.RESTORE.${s}`,
      `$JS.API.STREAM.LEADER.STEPDOWN.${s}`,
      `$JS.API.STREAM.PEER.REMOVE.${s}`,
      `$JS.API.DIRECT.GET.${s}`,
      `$JS.API.DIRECT.GET.${s}.$KV.${BUCKET}.h1.meta`, // not even its own keys: the watch needs no get
      `$JS.API.DIRECT.GET.${s}.$KV.${BUCKET}.h2.meta`,
      `$JS.API.CONSUMER.CREATE.${s}`, // the legacy form, without name and filter
      `$JS.API.CONSUMER.CREATE.${s}.${watchConsumerName('h1', 0)}.${hostSubjects('h1')}`, // the JetStream account's own subject
      `$JS.API.CONSUMER.DURABLE.CREATE.${s}.${watchConsumerName('h1', 0)}`,
      `$JS.API.CONSUMER.INFO.${s}.${watchConsumerName('h1', 0)}`,
      `$JS.API.CONSUMER.INFO.${s}.${watchConsumerName('h2', 0)}`,
      `$JS.API.CONSUMER.DELETE.${s}.${watchConsumerName('h2', 0)}`,
      `$JS.API.CONSUMER.MSG.NEXT.${s}.${watchConsumerName('h2', 0)}`,
      `$JS.API.CONSUMER.NAMES.${s}`,
      `$JS.API.CONSUMER.LIST.${s}`,
      `$JS.API.CONSUMER.LEADER.STEPDOWN.${s}.${watchConsumerName('h1', 0)}`,
      '$JS.API.ACCOUNT.PURGE.PLUMB_JS',
      '$JS.API.META.LEADER.STEPDOWN',
      '$JS.API.SERVER.REMOVE',
      `$JS.FC.${s}.x.y`,
      `$JS.ACK.${s}.${watchConsumerName('h1', 0)}.1.1.1.1.0`,
      `$KV.${BUCKET}.h1.meta`, // writing desired state, its own included
      `$KV.${BUCKET}.h2.meta`,
      // its own account's import names, for another host's consumers, names and keys
      consumerCreateSubject('h2', 0),
      consumerNextSubject('h2', 0),
      `$PLUMB.API.CONSUMER.CREATE.${s}.${watchConsumerName('h1', 0)}.$KV.${BUCKET}.h2.>`,
      `$PLUMB.API.CONSUMER.CREATE.${s}.${watchConsumerName('h1', 0)}.$KV.${BUCKET}.>`,
      `$PLUMB.API.CONSUMER.CREATE.${s}.${watchConsumerName('h1', WATCH_SLOTS)}.${hostSubjects('h1')}`,
      `$PLUMB.API.CONSUMER.INFO.${s}.${watchConsumerName('h1', 0)}`,
      `$PLUMB.API.STREAM.INFO.${s}`,
      'plumb.status.h2',
      'plumb.heartbeat.h2',
    ];
    for (const subject of subjects) expect(allowed.has(subject), subject).toBe(false);
    const notRefused: string[] = [];
    for (const subject of subjects) if (!(await refused(subject, '{}'))) notRefused.push(subject);
    expect(notRefused).toEqual([]);
    // and what is on the list works: a watch consumer on its first slot is created
    const made = (await h1.request(consumerCreateSubject('h1', 0), create({ name: watchConsumerName('h1', 0), deliver_policy: 'last_per_subject', inactive_threshold: 2e9 }), { timeout: 2000 })).json<{ error?: unknown; name?: string }>();
    expect(made).toMatchObject({ name: watchConsumerName('h1', 0) });
    expect(made.error).toBeUndefined();
  });

  it("cannot make the server speak on another host's report subjects (issue #18, point 8)", async () => {
    // a push consumer on its own keys delivering to h2's heartbeat subject, on its own slot: the
    // create is answered, but its deliveries stay in the JetStream account, where nobody listens
    const slot = 1;
    const push = (await h1.request(consumerCreateSubject('h1', slot), create({ name: watchConsumerName('h1', slot), deliver_subject: 'plumb.heartbeat.h2', deliver_policy: 'all' }), { timeout: 2000 })).json<{ error?: unknown }>();
    console.log(`bus: push consumer delivering to plumb.heartbeat.h2, create answered: ${JSON.stringify(push).slice(0, 120)}`);
    // a pull on its own consumer whose reply subject is h2's heartbeat: the reply stays in h1's account
    h1.publish(consumerNextSubject('h1', 0), JSON.stringify({ batch: 10 }), { reply: 'plumb.heartbeat.h2' });
    h1.publish(consumerNextSubject('h1', 0), JSON.stringify({ batch: 10, no_wait: true }), { reply: 'plumb.status.h2' });
    // new desired state for h1, so the push consumer has something to deliver
    hooks.set('h1', hostDoc('h1', 2, [{ id: 'p1', mac: 'aa:00:01:00:00:01' }, { id: 'p3', mac: 'aa:00:01:00:00:03' }]));
    await publisher.flushed();
    // positive control: a pull with its own inbox is answered, and h1's own heartbeat arrives
    const inbox = createInbox(inboxPrefix('h1'));
    const answered = new Promise<void>((resolve) => h1.subscribe(inbox, { max: 1, callback: () => resolve() }));
    await h1.flush();
    h1.publish(consumerNextSubject('h1', 0), JSON.stringify({ batch: 1 }), { reply: inbox });
    await answered;
    const rep = new StatusReporter(h1, 'h1', { version: 'probe' });
    rep.beat();
    await until(() => hooks.heartbeats.find((b) => b.hostId === 'h1' && b.version === 'probe'), 10_000);
    await controller.flush();
    await new Promise((r) => setTimeout(r, 500)); // a second chance for anything misrouted
    rep.stop();
    expect(hooks.heartbeats.filter((b) => b.hostId === 'h2')).toEqual([]);
    expect(hooks.statuses.filter((s) => s.hostId === 'h2')).toEqual([]);
  });

  it('cannot create more consumers than its watch slots (50 in a row: only the slot names are answered)', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 50; i++) {
      const name = i < WATCH_SLOTS ? watchConsumerName('h1', i) : `many${i}`;
      const subject = `$PLUMB.API.CONSUMER.CREATE.${STREAM}.${name}.${hostSubjects('h1')}`;
      const body = create({ name, deliver_policy: 'last_per_subject', inactive_threshold: 2e9 });
      if (i < WATCH_SLOTS) {
        // answered by JetStream (slot 1 already holds the push consumer above: "already exists")
        const r = (await h1.request(subject, body, { timeout: 2000 })).json<{ type?: string }>();
        outcomes.push(r.type === 'io.nats.jetstream.api.v1.consumer_create_response' ? 'answered' : JSON.stringify(r));
      } else {
        outcomes.push((await refused(subject, body)) ? 'refused' : 'not refused');
      }
    }
    expect(outcomes).toEqual([...Array(50).keys()].map((i) => (i < WATCH_SLOTS ? 'answered' : 'refused')));
    // the JetStream account agrees: h1's consumers are its slot names, no more
    const jsm = await jetstreamManager(controller);
    const names: string[] = [];
    for await (const c of jsm.consumers.list(STREAM)) names.push(c.name);
    const mine = names.filter((n) => n.endsWith('_h1'));
    console.log(`bus: h1 asked for 50 consumers, JetStream holds ${mine.length}: ${mine.sort().join(', ')}`);
    expect(mine.length).toBeLessThanOrEqual(WATCH_SLOTS);
    expect(mine.every((n) => [...Array(WATCH_SLOTS).keys()].some((i) => n === watchConsumerName('h1', i)))).toBe(true);
  });
});
