// `plumb agent|controller check-config`: validate a daemon's config file. With --exec-condition
// the exit status follows systemd's ExecCondition= contract, which the packaged units use so that
// a unit enabled at install stays down until the operator has configured it:
//   0    valid: the daemon starts
//   1    the file sets nothing yet (the shipped, all-commented example): the start is skipped, not failed
//   255  the file is invalid: the unit fails, and the error (naming the field) is in the journal
import { NotConfiguredError } from '../util/config-file.js';
import { PlumbError, errorMessage } from '../util/errors.js';

export const EXEC_CONDITION_HELP = "systemd ExecCondition= exit status: 1 (skip) while the file sets nothing, 255 (fail) when it is invalid";

export function checkConfig(path: string, load: () => string, execCondition: boolean): void {
  try {
    process.stdout.write(`${path}: valid (${load()})\n`);
  } catch (err) {
    if (!(err instanceof PlumbError)) throw err;
    process.stderr.write(`plumb: ${errorMessage(err)}\n`);
    process.exitCode = err instanceof NotConfiguredError || !execCondition ? 1 : 255;
  }
}
