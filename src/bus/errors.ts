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
