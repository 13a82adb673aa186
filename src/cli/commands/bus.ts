import type { Command } from 'commander';

// Filled in by the bus work; registers its subcommands on the root program.
export function registerBusCommands(_program: Command): void {}
