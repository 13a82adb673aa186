import type { Command } from 'commander';

// Filled in by the controller work; registers its subcommands on the root program.
export function registerControllerCommands(_program: Command): void {}
