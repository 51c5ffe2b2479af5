// The list of subcommands; one line per command module.
import type { Command } from "commander";

export function registerCommands(program: Command): void {
  void program;
}
