// Two ways to run the `birdcage` command in tests: in-process (fast, for most cases) and as a real
// child process through bin/birdcage.js (for stdin, exit codes and the launcher itself).
import { execa } from "execa";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { repoRoot } from "./paths.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main() in this process, capturing what it writes to stdout and stderr. */
export async function runCli(args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += chunk.toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += chunk.toString()), true)) as typeof process.stderr.write;
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = saved;
  }
}

/** Runs `node bin/birdcage.js ARGS` as a child process. */
export async function spawnCli(args: string[], options: { input?: string; cwd?: string } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [join(repoRoot, "bin/birdcage.js"), ...args], {
    input: options.input ?? "",
    cwd: options.cwd ?? repoRoot,
    reject: false,
    env: { NO_COLOR: "1" },
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
