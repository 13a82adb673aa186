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
