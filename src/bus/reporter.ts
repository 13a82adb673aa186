// Agent side: per-port status reports (only changes; everything again after a reconnect) and a
// periodic heartbeat, on this host's own subjects.
import type { NatsConnection } from '@nats-io/transport-node';
import { heartbeatSubject, statusSubject, type HeartbeatMessage, type StatusMessage } from './layout.js';

type PortReport = StatusMessage['ports'][number];

export class StatusReporter {
  /** port id -> the report last sent for it, for the ports of the latest report only */
  private readonly sent = new Map<string, string>();
  /** the generation last reported (-1: none yet, or again after a reconnect) */
  private generation = -1;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly host: string,
    private readonly heartbeat: HeartbeatMessage,
  ) {
    void (async () => {
      for await (const s of nc.status()) {
        if (this.stopped) break;
        if (s.type === 'reconnect') {
          this.sent.clear(); // the controller may have missed reports while we were away
          this.generation = -1;
          this.beat();
        }
      }
    })();
  }

  /** `ports`: every port of the host now; only those whose report changed are sent. */
  report(generation: number, ports: PortReport[]): void {
    // forget ports that are gone: VM churn brings new port ids for the life of the agent
    if (this.sent.size > ports.length || ports.length === 0) {
      const current = new Set(ports.map((p) => p.id));
      for (const id of this.sent.keys()) if (!current.has(id)) this.sent.delete(id);
    }
    const changed = ports.filter((p) => this.sent.get(p.id) !== JSON.stringify(p));
    // a new generation is reported even when no port changed: the controller orders the switch
    // of a live migration on it (the old host has applied the document without the port)
    if (changed.length === 0 && generation === this.generation) return;
    const msg: StatusMessage = { generation, ports: changed };
    this.nc.publish(statusSubject(this.host), JSON.stringify(msg));
    this.generation = generation;
    for (const p of changed) this.sent.set(p.id, JSON.stringify(p));
  }

  /** Ports whose last report is remembered (tests: it must not grow with churn). */
  get remembered(): number {
    return this.sent.size;
  }

  beat(): void {
    if (!this.nc.isClosed()) this.nc.publish(heartbeatSubject(this.host), JSON.stringify(this.heartbeat));
  }

  startHeartbeat(intervalMs: number): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
