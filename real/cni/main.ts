// The CNI plugin as a process: stdin (bounded) and the environment in, the result or error JSON on
// stdout, diagnostics on stderr, exit code 0 or 1. Shared by `birdcage cni` and bin/birdcage-cni (which
// imports only this, so a plugin run does not load the whole CLI).
import { CNI_ERR, CniError, LATEST_VERSION, MAX_CONFIG_BYTES, errorResult } from "../../src/core/cni/index.ts";
import { runCni } from "./plugin.ts";

/** Reads stdin up to `limit` bytes; undefined when it is bigger. An interactive terminal reads as empty. */
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

/** Runs one CNI command for this process; returns the exit code. */
export async function cniMain(): Promise<0 | 1> {
  let stdin: string | undefined;
  try {
    stdin = await readStdin(MAX_CONFIG_BYTES);
  } catch (e) {
    const err = new CniError(CNI_ERR.IO_FAILURE, "cannot read the network configuration from stdin", (e as Error).message);
    process.stdout.write(JSON.stringify(errorResult(LATEST_VERSION, err)) + "\n");
    return 1;
  }
  if (stdin === undefined) {
    const err = new CniError(CNI_ERR.DECODING_FAILURE, "network configuration is too large", `more than ${MAX_CONFIG_BYTES} bytes on stdin`);
    process.stdout.write(JSON.stringify(errorResult(LATEST_VERSION, err)) + "\n");
    return 1;
  }
  const outcome = await runCni({ env: process.env, stdin, log: (line) => process.stderr.write(line + "\n") });
  process.stdout.write(outcome.stdout);
  return outcome.exitCode;
}
