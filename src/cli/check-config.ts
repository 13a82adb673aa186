// `plumb agent|controller check-config`: validate a daemon's config file. With --exec-condition
// the exit status follows systemd's ExecCondition= contract, which the packaged units use so that
// a unit enabled at install stays down until the operator has configured it:
//   0    valid: the daemon starts
//   1    the file sets nothing yet (the shipped, all-commented example): the start is skipped, not failed
//   255  the file is invalid: the unit fails, and the error (naming the field) is in the journal
import type { Command } from 'commander';
import { NotConfiguredError } from '../util/config-file.js';
import { PlumbError, errorMessage } from '../util/errors.js';

const EXEC_CONDITION_HELP = 'systemd ExecCondition= exit status: 1 (skip) while the file sets nothing, 255 (fail) when it is invalid';

/** Adds `check-config` to a daemon's command; `summary` loads the file and says what it configures. */
export function addCheckConfigCommand(parent: Command, what: string, summary: (path: string) => string): void {
  parent
    .command('check-config')
    .requiredOption('--config <file>', `${what} config (YAML)`)
    .option('--exec-condition', EXEC_CONDITION_HELP)
    .action((o: { config: string; execCondition?: boolean }) => checkConfig(o.config, () => summary(o.config), o.execCondition === true));
}

function checkConfig(path: string, load: () => string, execCondition: boolean): void {
  try {
    process.stdout.write(`${path}: valid (${load()})\n`);
  } catch (err) {
    if (!(err instanceof PlumbError)) throw err;
    process.stderr.write(`plumb: ${errorMessage(err)}\n`);
    process.exitCode = err instanceof NotConfiguredError || !execCondition ? 1 : 255;
  }
}
