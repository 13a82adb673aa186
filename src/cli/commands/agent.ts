import type { Command } from 'commander';

// Filled in by the agent work: plan / apply / run.
export function registerAgentCommands(_program: Command): void {}
