// Base class for every plumb error. Each condition has its own subclass (nats.js style) so
// callers branch on `instanceof`, never on message text.
export class PlumbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An input document (state file, config, API body) failed validation. */
export class ValidationError extends PlumbError {
  constructor(
    /** Dotted path of the offending field, e.g. `ports[3].mac`. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
