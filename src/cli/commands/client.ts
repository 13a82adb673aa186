import type { Command } from 'commander';

// Filled in by the client work; registers its subcommands on the root program.
export function registerClientCommands(_program: Command): void {}
