// `plumb hook …`: executables a VM manager calls on a hypervisor node (docs/hypervisors.md).
import type { Command } from 'commander';
import { DEFAULT_HOOK_CONFIG, loadHookConfig, type HookConfig } from '../../hook/config.js';
import { ganetiIfdown, ganetiIfup } from '../../hook/ganeti.js';
import { describeNic, parseGanetiNic, type GanetiNic } from '../../hook/ganeti-env.js';

export function registerHookCommands(program: Command): void {
  const hook = program.command('hook').description("hooks for VM managers: plumb adopts the taps they create (Ganeti's NIC script)");
  // every Ganeti NIC script: the NIC from Ganeti's environment, the controller from the config file
  const ganetiScript = (name: string, description: string, run: (nic: GanetiNic, cfg: HookConfig) => Promise<string>): void => {
    hook
      .command(name)
      .description(description)
      .option('--config <file>', 'controller URL and service credential', DEFAULT_HOOK_CONFIG)
      .action(async (o: { config: string }) => {
        const nic = parseGanetiNic(process.env);
        process.stdout.write(`${await run(nic, loadHookConfig(o.config))}\n`);
      });
  };
  ganetiScript(
    'ganeti-ifup',
    "Ganeti's NIC script (/etc/ganeti/kvm-vif-bridge, or kvm-ifup-custom in snf-ganeti): adopt the tap into the port with the NIC's MAC and wait until the agent applied it",
    async (nic, cfg) => {
      const r = await ganetiIfup(nic, cfg);
      for (const w of r.warnings) process.stderr.write(`plumb: warning: ${w}\n`);
      return `plumb: port ${r.portId} adopted ${describeNic(nic)} at ${cfg.host}; ACTIVE after ${r.ms} ms`;
    },
  );
  ganetiScript('ganeti-ifdown', "snf-ganeti's kvm-ifdown-custom: unbind the NIC's port from this node unless it has already moved on", async (nic, cfg) => {
    const r = await ganetiIfdown(nic, cfg);
    return r.unbound ? `plumb: port ${r.portId} unbound from ${nic.interface}` : `plumb: nothing to do: ${r.why}`;
  });
}
