// The `birdcage` command. Each subcommand lives in src/cli/commands/<name>.ts and registers itself on
// the program; this file only wires them together and turns errors into exit codes.
import { Command, CommanderError } from "commander";
import { EXIT_BAD_INPUT, UsageError, CheckFailed } from "./errors.ts";
import { registerCommands } from "./commands/index.ts";
import { InputError, formatProblems } from "../core/model/index.ts";

export function buildProgram(): Command {
  const program = new Command("birdcage")
    .description("Simulation-first testbed for Kubernetes L3 networking in the Calico style")
    .version("0.1.0")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  registerCommands(program);
  // Every subcommand exits through our handler, so usage errors become exit code 2.
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  override(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version arrive here with exit code 0.
      return e.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    if (e instanceof InputError) {
      // Every problem on its own line, file:line:col first, so editors can jump to it.
      process.stderr.write(formatProblems(e.problems) + "\n");
      return e.exitCode;
    }
    if (e instanceof UsageError || e instanceof CheckFailed) {
      process.stderr.write(`birdcage: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof Error && "exitCode" in e && typeof e.exitCode === "number") {
      process.stderr.write(`birdcage: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`birdcage: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 70;
  }
}
