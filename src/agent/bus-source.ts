// Desired state from the controller over NATS: the host's KV prefix, rebuilt on every reconnect.
import type { NatsConnection } from '@nats-io/transport-node';
import { watchHostState, type HostStateWatch } from '../bus/watcher.js';
import type { StateSource } from './state-file.js';

export function busStateSource(nc: NatsConnection, host: string): StateSource {
  let watch: HostStateWatch | undefined;
  return {
    start(onDocument, onError) {
      watchHostState(nc, host, onDocument).then(
        (w) => (watch = w),
        (err: unknown) => onError(err),
      );
    },
    async stop() {
      await watch?.stop();
    },
    portStoredAt: (id) => watch?.portStoredAt(id),
  };
}
