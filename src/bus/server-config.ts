// The nats-server configuration that confines each host to its own keys and report subjects.
//
// Why accounts and not only user permissions: nats-server (2.9, and still later releases)
// delivers on a consumer's behalf to whatever deliver_subject it was created with, and answers a
// JetStream request on whatever reply subject the request carried, without checking either
// against the creator's permissions. In one shared account a host could therefore make the
// server publish onto another host's report subjects, which the controller trusts as the
// sender's identity. So the subjects live in separate accounts:
//
//   PLUMB_JS          JetStream and the KV stream; no users. Anything the server publishes on a
//                     consumer's behalf lands here, where nothing trusts a subject.
//   PLUMB_CONTROLLER  the controller: the whole JetStream API and its deliveries by import, and
//                     each host's report subjects by import from that host's account.
//   HOST_<host>       one host: imports exactly the JetStream API subjects of its own watch
//                     (create, next, delete of its WATCH_SLOTS named pull consumers, filtered to
//                     its own keys) and exports only plumb.status.<host> and plumb.heartbeat.<host>.
//                     Replies to its requests come back into its own account only.
//
// The number of a host's consumers is bounded by the names it may create (WATCH_SLOTS); an
// account-wide JetStream limit would let one host use up every other host's share. No stream
// info, no consumer info or list, no direct get, no flow-control or ack subjects: its watch
// (src/bus/watcher.ts) needs none of them.
import { CONTROLLER_USER, type Identity } from './credentials.js';
import { BUCKET, STREAM, WATCH_SLOTS, jsApiSubject, consumerCreateSubject, consumerDeleteSubject, consumerNextSubject, heartbeatSubject, inboxPrefix, statusSubject } from './layout.js';

export const JS_ACCOUNT = 'PLUMB_JS';
export const CONTROLLER_ACCOUNT = 'PLUMB_CONTROLLER';
export const hostAccount = (host: string): string => `HOST_${host}`;

export interface ServerConfigOptions {
  port: number;
  host?: string;
  storeDir: string;
  tls?: { cert: string; key: string; ca?: string };
  /** a node of a cluster: its name, its route port, and the other nodes' routes */
  cluster?: { name: string; serverName: string; port: number; routes: string[] };
}

/** What a host's agent needs, and nothing more. */
export interface HostAccess {
  /** The JetStream API subjects it may use, as it publishes them (imported from PLUMB_JS). */
  jsApi: string[];
  /** Subjects it reports on (exported to the controller). */
  reports: string[];
  /** Where replies to its requests arrive. */
  inbox: string;
}

export function hostAccess(host: string): HostAccess {
  const slots = [...Array(WATCH_SLOTS).keys()];
  return {
    jsApi: slots.flatMap((i) => [consumerCreateSubject(host, i), consumerNextSubject(host, i), consumerDeleteSubject(host, i)]),
    reports: [statusSubject(host), heartbeatSubject(host)],
    inbox: `${inboxPrefix(host)}.>`,
  };
}

const q = (x: string): string => JSON.stringify(x);
const list = (xs: string[]): string => xs.map(q).join(', ');

export function serverConfig(identities: Identity[], o: ServerConfigOptions): string {
  const hosts = identities.filter((id) => id.name !== CONTROLLER_USER);
  const controller = identities.find((id) => id.name === CONTROLLER_USER);
  const jsExports = [
    // the controller: everything (it creates the bucket, writes keys, reads reports of consumers)
    ...['$JS.API.>', `$KV.${BUCKET}.>`, `$JS.FC.${STREAM}.>`, `$JS.ACK.${STREAM}.>`].map((s) => `      { service: ${q(s)}, accounts: [${q(CONTROLLER_ACCOUNT)}] }`),
    // the controller's consumers deliver to its inboxes (random per connection; no identity)
    `      { stream: "_INBOX.>", accounts: [${q(CONTROLLER_ACCOUNT)}] }`,
    // each host's own watch subjects, exported to that host's account only (exact subjects: an
    // overlapping wildcard export would make nats-server pick either export for an import)
    ...hosts.flatMap((h) =>
      hostAccess(h.name).jsApi.map((s) => `      { service: ${q(jsApiSubject(s))}, ${s.includes('.MSG.NEXT.') ? 'response_type: stream, ' : ''}accounts: [${q(hostAccount(h.name))}] }`),
    ),
  ];
  const controllerImports = [
    ...['$JS.API.>', `$KV.${BUCKET}.>`, `$JS.FC.${STREAM}.>`, `$JS.ACK.${STREAM}.>`].map((s) => `      { service: { account: ${q(JS_ACCOUNT)}, subject: ${q(s)} } }`),
    `      { stream: { account: ${q(JS_ACCOUNT)}, subject: "_INBOX.>" } }`,
    ...hosts.flatMap((h) => hostAccess(h.name).reports.map((s) => `      { stream: { account: ${q(hostAccount(h.name))}, subject: ${q(s)} } }`)),
  ];
  const accounts = [
    `  # JetStream and the KV bucket; no users: what the server publishes on a consumer's behalf lands here\n  ${q(JS_ACCOUNT)}: {\n    jetstream: enabled\n    exports: [\n${jsExports.join('\n')}\n    ]\n  }`,
    `  # the controller: writes every host's desired state, reads every host's reports\n  ${q(CONTROLLER_ACCOUNT)}: {\n    users: [${controller ? `{ nkey: ${controller.publicKey} }` : ''}]\n    imports: [\n${controllerImports.join('\n')}\n    ]\n  }`,
    ...hosts.map((h) => {
      const a = hostAccess(h.name);
      const imports = a.jsApi.map((s) => `      { service: { account: ${q(JS_ACCOUNT)}, subject: ${q(jsApiSubject(s))} }, to: ${q(s)} }`);
      const exports = a.reports.map((s) => `      { stream: ${q(s)}, accounts: [${q(CONTROLLER_ACCOUNT)}] }`);
      return (
        `  # host ${h.name}: its own watch consumers on its own keys, its own report subjects\n  ${q(hostAccount(h.name))}: {\n` +
        `    users: [{ nkey: ${h.publicKey}, permissions: { publish: { allow: [${list([...a.jsApi, ...a.reports])}] }, subscribe: { allow: [${list([a.inbox])}] } } }]\n` +
        `    imports: [\n${imports.join('\n')}\n    ]\n    exports: [\n${exports.join('\n')}\n    ]\n  }`
      );
    }),
  ];
  const tls = o.tls
    ? `tls {\n  cert_file: ${q(o.tls.cert)}\n  key_file: ${q(o.tls.key)}\n${o.tls.ca ? `  ca_file: ${q(o.tls.ca)}\n` : ''}}\n`
    : '';
  return [
    '# Generated by `plumb bus gen-server-config`. Layout and reasons: src/bus/server-config.ts, docs/operations.md.',
    `listen: ${q(`${o.host ?? '127.0.0.1'}:${o.port}`)}`,
    ...(o.cluster
      ? [
          `server_name: ${q(o.cluster.serverName)}`,
          `cluster {\n  name: ${q(o.cluster.name)}\n  listen: ${q(`${o.host ?? '127.0.0.1'}:${o.cluster.port}`)}\n  routes: [${list(o.cluster.routes)}]\n}`,
        ]
      : []),
    `jetstream { store_dir: ${q(o.storeDir)} }`,
    tls,
    'accounts {',
    accounts.join('\n'),
    '}',
    '',
  ].join('\n');
}
