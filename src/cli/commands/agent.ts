// `plumb agent plan|apply|check-config|run`: the one-shot and standalone modes of the host agent.
import type { Command } from 'commander';
import { openKernelHandle } from '../../kernel/handle.js';
import { describeOp } from '../../agent/ops.js';
import { Reconciler, type PassResult } from '../../agent/reconciler.js';
import { readStateFile } from '../../agent/state-file.js';
import { startAgent } from '../../agent/daemon.js';
import { loadAgentConfig } from '../../agent-config/load.js';
import { agentConfigSchema, type AgentConfig } from '../../agent-config/schema.js';
import { ValidationError } from '../../util/errors.js';
import { serveUntilSignal } from '../until-signal.js';
import { addCheckConfigCommand } from '../check-config.js';
import { hostExtensions } from '../../agent/extensions.js';
import { validateHostState } from '../../state/validate.js';
import { ownerKey } from '../../agent/ownership.js';
import { logger } from '../../util/log.js';
import { shownNatsUrls } from '../../state/nats-url.js';

interface CommonOpts {
  state: string;
  netns?: string;
  json?: boolean;
  firewall?: boolean;
}

function printResult(r: PassResult, json: boolean | undefined): void {
  if (json) {
    const maxRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
    process.stdout.write(`${JSON.stringify({ ...r, ops: r.ops.map(describeOp), maxRssMB }, null, 2)}\n`);
    return;
  }
  for (const op of r.ops) process.stdout.write(`${op.kind.endsWith('Del') ? '-' : '+'} ${describeOp(op)}\n`);
  for (const rej of r.rejections) process.stdout.write(`rejected ${rej.kind} ${rej.id ?? '?'}: ${rej.field}: ${rej.reason}\n`);
  for (const p of r.problems) process.stdout.write(`not applied ${ownerKey(p.owner)}: ${p.reason}\n`);
  for (const f of r.failures) process.stdout.write(`failed ${ownerKey(f.owner)}: ${f.op}: ${f.reason}\n`);
  for (const p of r.pending) process.stdout.write(`waiting ${ownerKey(p.owner)}: ${p.reason}\n`);
  process.stdout.write(
    `generation ${r.generation}: ${r.writes} kernel writes, ${r.failures.length} failures, ${r.problems.length} not applied, ${r.rejections.length} rejected, ${r.durationMs.toFixed(1)} ms — ${r.converged ? 'converged' : 'NOT converged'}\n`,
  );
}

export function registerAgentCommands(program: Command): void {
  const agent = program.command('agent').description('the host agent: make the kernel match a host desired state');

  agent
    .command('plan')
    .description('print the kernel operations that applying the state would perform')
    .requiredOption('--state <file>', 'desired state document (JSON or YAML)')
    .option('--netns <name>', 'operate inside this named network namespace')
    .option('--json', 'machine-readable output')
    .action(async (o: CommonOpts) => {
      const v = validateHostState(readStateFile(o.state));
      const handle = await openKernelHandle({ netns: o.netns });
      try {
        const { ops, problems } = await new Reconciler(handle).plan(v);
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ ops: ops.map(describeOp), problems, rejections: v.rejections }, null, 2)}\n`);
          return;
        }
        for (const op of ops) process.stdout.write(`${describeOp(op)}\n`);
        for (const r of v.rejections) process.stdout.write(`rejected ${r.kind} ${r.id ?? '?'}: ${r.field}: ${r.reason}\n`);
        for (const p of problems) process.stdout.write(`not applicable ${ownerKey(p.owner)}: ${p.reason}\n`);
        process.stdout.write(`${ops.length} operations\n`);
      } finally {
        handle.close();
      }
    });

  agent
    .command('apply')
    .description('apply the state once and exit: 0 only when everything converged')
    .requiredOption('--state <file>', 'desired state document (JSON or YAML)')
    .option('--netns <name>', 'operate inside this named network namespace')
    .option('--no-firewall', 'do not manage port-security nftables tables')
    .option('--json', 'machine-readable output')
    .action(async (o: CommonOpts) => {
      const v = validateHostState(readStateFile(o.state));
      const handle = await openKernelHandle({ netns: o.netns });
      try {
        const r = await new Reconciler(handle, { extensions: hostExtensions({ netns: o.netns, firewall: o.firewall !== false }) }).reconcile(v);
        printResult(r, o.json);
        process.exitCode = r.converged ? 0 : 1;
      } finally {
        handle.close();
      }
    });

  addCheckConfigCommand(agent, 'agent', (path) => {
    const cfg = loadAgentConfig(path);
    return `host ${cfg.host}, ${cfg.nats ? `NATS ${shownNatsUrls(cfg.nats.url)}` : `state file ${cfg.stateFile ?? '?'}`}`;
  });

  agent
    .command('run')
    .description('keep the host converged: desired state from the controller over NATS (--config) or from a watched state file (--state)')
    .option('--config <file>', 'agent config (YAML): host id, NATS url and credentials, ...')
    .option('--state <file>', 'standalone: desired state document (JSON or YAML), watched; atomic renames are seen')
    .option('--netns <name>', 'operate inside this named network namespace')
    .option('--no-firewall', 'do not manage port-security nftables tables')
    .action(async (o: Partial<CommonOpts> & { config?: string }) => {
      if (!o.config && !o.state) throw new ValidationError('--config', 'give --config FILE (NATS) or --state FILE (standalone)');
      const cfg: AgentConfig = o.config
        ? loadAgentConfig(o.config)
        : agentConfigSchema.parse({ host: 'standalone', stateFile: o.state, ...(o.netns ? { netns: o.netns } : {}), firewall: o.firewall !== false });
      if (o.netns) cfg.netns = o.netns;
      const log = logger('agent', { host: cfg.host });
      const running = await startAgent(cfg, log);
      await serveUntilSignal(log, () => running.stop(), 'reconciling');
    });
}
