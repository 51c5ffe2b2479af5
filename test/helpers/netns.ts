// Network namespaces for real-mode tests: names carry the bc-t-<pid>- prefix so cleanup finds them,
// and suites skip (or, with CI=true, fail) when root or `ip` is missing.
import { execa } from "execa";
import { execFileSync } from "node:child_process";
import { describe } from "@jest/globals";

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "`ip` (iproute2) is not installed";
  }
  return undefined;
}

/** describe, or describe.skip with the reason printed; never skips when CI=true. */
export function describeWithNetns(what: string): typeof describe | typeof describe.skip {
  const reason = netnsUnavailable();
  if (reason === undefined || process.env.CI === "true") return describe;
  console.warn(`skipping ${what}: ${reason}`);
  return describe.skip;
}

export const testNetnsName = (suffix: string): string => `bc-t-${process.pid}-${suffix}`;

export async function ip(...args: string[]): Promise<string> {
  const r = await execa("ip", args);
  return String(r.stdout);
}

/** Creates a namespace with lo up. */
export async function addNetns(name: string): Promise<void> {
  await ip("netns", "add", name);
  await ip("-n", name, "link", "set", "lo", "up");
}

/** Deletes namespaces, ignoring ones that are already gone. */
export async function delNetns(...names: string[]): Promise<void> {
  for (const n of names) await execa("ip", ["netns", "del", n], { reject: false });
}
