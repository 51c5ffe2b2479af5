// `birdcage cni`: the CNI plugin entry point (CNI spec 1.0). A container runtime executes it (through
// bin/birdcage-cni, named after the config's "type") with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
// CNI_IFNAME, CNI_ARGS in the environment and the network configuration on stdin. The result or the
// spec's error JSON goes to stdout, diagnostics to stderr; exit code 0 on success, 1 on error (the
// spec's protocol, so no --output option). See docs/cni.md.
import type { Command } from "commander";
import { CNI_ERR, CniError, LATEST_VERSION, MAX_CONFIG_BYTES, errorResult } from "../../core/cni/index.ts";
import { runCni } from "../../../real/cni/plugin.ts";

/** Reads stdin up to the config bound; undefined when it is bigger. An interactive terminal reads as empty. */
async function readStdin(limit: number): Promise<string | undefined> {
  if (process.stdin.isTTY) return "";
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) {
      process.stdin.destroy();
      return undefined;
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function registerCni(program: Command): void {
  program
    .command("cni")
    .description("CNI plugin (ADD, DEL, CHECK, VERSION): env CNI_* and the network config on stdin, result JSON on stdout; see docs/cni.md")
    .action(async () => {
      let stdin: string | undefined;
      try {
        stdin = await readStdin(MAX_CONFIG_BYTES);
      } catch (e) {
        const err = new CniError(CNI_ERR.IO_FAILURE, "cannot read the network configuration from stdin", (e as Error).message);
        process.stdout.write(JSON.stringify(errorResult(LATEST_VERSION, err)) + "\n");
        process.exitCode = 1;
        return;
      }
      if (stdin === undefined) {
        const err = new CniError(CNI_ERR.DECODING_FAILURE, "network configuration is too large", `more than ${MAX_CONFIG_BYTES} bytes on stdin`);
        process.stdout.write(JSON.stringify(errorResult(LATEST_VERSION, err)) + "\n");
        process.exitCode = 1;
        return;
      }
      const outcome = await runCni({ env: process.env, stdin, log: (line) => process.stderr.write(line + "\n") });
      process.stdout.write(outcome.stdout);
      process.exitCode = outcome.exitCode;
    });
}
