// `plumb hook …`: executables a VM manager calls on a hypervisor node (docs/hypervisors.md).
import type { Command } from 'commander';
import { DEFAULT_HOOK_CONFIG, loadHookConfig } from '../../hook/config.js';
import { ganetiIfdown, ganetiIfup } from '../../hook/ganeti.js';
import { describeNic, parseGanetiNic } from '../../hook/ganeti-env.js';

export function registerHookCommands(program: Command): void {
  const hook = program.command('hook').description("hooks for VM managers: plumb adopts the taps they create (Ganeti's NIC script)");
  hook
    .command('ganeti-ifup')
    .description("Ganeti's NIC script (/etc/ganeti/kvm-vif-bridge, or kvm-ifup-custom in snf-ganeti): adopt the tap into the port with the NIC's MAC and wait until the agent applied it")
    .option('--config <file>', 'controller URL and service credential', DEFAULT_HOOK_CONFIG)
    .action(async (o: { config: string }) => {
      const nic = parseGanetiNic(process.env);
      const cfg = loadHookConfig(o.config);
      const r = await ganetiIfup(nic, cfg);
      for (const w of r.warnings) process.stderr.write(`plumb: warning: ${w}\n`);
      process.stdout.write(`plumb: port ${r.portId} adopted ${describeNic(nic)} at ${cfg.host}; ACTIVE after ${r.ms} ms\n`);
    });
  hook
    .command('ganeti-ifdown')
    .description("snf-ganeti's kvm-ifdown-custom: unbind the NIC's port from this node unless it has already moved on")
    .option('--config <file>', 'controller URL and service credential', DEFAULT_HOOK_CONFIG)
    .action(async (o: { config: string }) => {
      const nic = parseGanetiNic(process.env);
      const r = await ganetiIfdown(nic, loadHookConfig(o.config));
      process.stdout.write(r.unbound ? `plumb: port ${r.portId} unbound from ${nic.interface}\n` : `plumb: nothing to do: ${r.why}\n`);
    });
}
