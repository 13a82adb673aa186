// Connecting to the bus as one identity (nkey seed), reconnecting forever: while the bus is
// away the agent keeps the kernel as it is, and picks up again when it returns.
import { readFileSync } from 'node:fs';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';

export interface BusConnectOptions {
  /** one server, or a cluster's nodes (connects to any, fails over to the others) */
  url: string | readonly string[];
  /** Path of the nkey seed file, or the seed itself. */
  seedFile?: string;
  seed?: string;
  name: string;
  /** Inbox prefix the identity may subscribe to (hosts: _INBOX_<host>). */
  inboxPrefix?: string;
  tls?: { ca?: string; cert?: string; key?: string };
}

export async function connectBus(o: BusConnectOptions): Promise<NatsConnection> {
  const seed = o.seed ?? (o.seedFile ? readFileSync(o.seedFile, 'utf8').trim() : undefined);
  return connect({
    servers: typeof o.url === 'string' ? o.url : [...o.url],
    name: o.name,
    ...(seed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) } : {}),
    ...(o.inboxPrefix ? { inboxPrefix: o.inboxPrefix } : {}),
    ...(o.tls ? { tls: { ...(o.tls.ca ? { caFile: o.tls.ca } : {}), ...(o.tls.cert ? { certFile: o.tls.cert } : {}), ...(o.tls.key ? { keyFile: o.tls.key } : {}) } } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
  });
}
