import { PlumbError } from '../util/errors.js';

/** nats-server could not be started (binary missing, bad config, port in use...). */
export class NatsServerStartError extends PlumbError {}

/** A host or object id cannot be used as a KV key token. */
export class InvalidKeyTokenError extends PlumbError {
  constructor(readonly field: string, readonly value: string) {
    super(`${field}: '${value}' cannot be used in a NATS subject/KV key (letters, digits, '_' and '-' only)`);
  }
}

/** A credentials directory lacks a seed for a user. */
export class MissingCredentialsError extends PlumbError {}

/** Every watch consumer name a host may use is taken (by live watches or ones not yet expired). */
export class WatchSlotsExhaustedError extends PlumbError {}

/** JetStream refused to create a host's watch consumer. */
export class WatchConsumerError extends PlumbError {
  constructor(readonly code: number, readonly errCode: number, description: string) {
    super(`watch consumer refused: ${description} (${code}/${errCode})`);
  }
}

/** A watch's pull ended: its consumer is gone, a delivery was lost or heartbeats stopped. */
export class WatchInterruptedError extends PlumbError {}
