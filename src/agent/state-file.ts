// Desired state from a file, for `plumb agent plan|apply|run --state FILE`. The directory is
// watched, not the file, so an atomic rename-over (how configuration tools write) is seen —
// the old nfdhcpd missed binding files written that way.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PlumbError, errorMessage } from '../util/errors.js';

export class StateFileError extends PlumbError {
  constructor(readonly path: string, reason: string) {
    super(`${path}: ${reason}`);
  }
}

/** Reads a JSON (or YAML) state document; throws StateFileError naming the file. */
export function readStateFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StateFileError(path, `cannot read: ${errorMessage(err)}`);
  }
  try {
    return /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new StateFileError(path, `not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${errorMessage(err)}`);
  }
}

/** A source of desired-state documents: the file now, and again whenever it changes. */
export interface StateSource {
  start(onDocument: (doc: unknown) => void, onError: (err: unknown) => void): void;
  stop(): Promise<void>;
  /** When the source received a port's current version (ms since the epoch), if it knows. */
  portStoredAt?(portId: string): number | undefined;
}

export function fileStateSource(path: string): StateSource {
  const full = resolve(path);
  let watcher: FSWatcher | undefined;
  return {
    start(onDocument, onError) {
      const load = (): void => {
        try {
          onDocument(readStateFile(full));
        } catch (err) {
          onError(err);
        }
      };
      watcher = watch(dirname(full), (_event, name) => {
        if (name === basename(full)) load();
      });
      load();
    },
    async stop() {
      watcher?.close();
    },
  };
}
