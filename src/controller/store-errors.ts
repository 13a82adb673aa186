// Errors a store raises when a write would break one of its invariants (store.ts lists them):
// the service checks each first with an error naming the field, so reaching one of these means
// a path around those checks, or a race the checks could not see.
import { PlumbError } from '../util/errors.js';

export abstract class StoreInvariantError extends PlumbError {}

/** Two subnets of a network, or of the routed public networks, would share addresses. */
export class SubnetOverlapStoreError extends StoreInvariantError {}

/** A subnet's allocation pools are outside it, reversed, overlapping or hold its gateway. */
export class SubnetPoolsStoreError extends StoreInvariantError {}

/** A subnet would be deleted while a fixed or floating address uses it. */
export class SubnetInUseStoreError extends StoreInvariantError {}

/** A unit was submitted after close() (the controller is shutting down). */
export class StoreClosedError extends PlumbError {
  constructor() {
    super('the controller store is closed');
  }
}

/**
 * The store was migrated by a newer plumb than this one: a downgrade. Refused before anything is
 * read or written, since this plumb cannot know what the newer schema means.
 */
export class StoreSchemaNewerError extends PlumbError {
  constructor(readonly path: string, readonly found: number, readonly known: number) {
    super(
      `${path}: the store's schema is version ${found}, newer than this plumb's (${known}); it was migrated by a newer plumb, and a downgrade is refused. ` +
        'Install that newer plumb again, or restore the backup of the store taken before the upgrade (docs/operations.md).',
    );
  }
}

/**
 * The database cannot be reached (at start, or lost while running). Nothing of the unit was
 * applied, unless the connection was lost during its COMMIT (then PostgreSQL alone knows). The
 * API answers 503 with Retry-After; the store reconnects by itself when the database returns.
 */
export class StoreUnavailableError extends PlumbError {
  readonly retryAfterSeconds = 2;
  constructor(readonly where: string, cause: unknown) {
    super(`the controller store at ${where} is unavailable: ${cause instanceof Error ? cause.message || cause.name : String(cause)}`, { cause });
  }
}

/** A write unit kept colliding with concurrent ones (serialization failures, deadlocks) and gave up; retry later. */
export class StoreContentionError extends PlumbError {
  readonly retryAfterSeconds = 1;
  constructor(attempts: number, cause: unknown) {
    super(`the change collided with concurrent changes ${attempts} times and was not applied; retry it`, { cause });
  }
}
