import type { Command } from 'commander';

// Filled in by the lab work; registers its subcommands on the root program.
export function registerLabCommands(_program: Command): void {}
