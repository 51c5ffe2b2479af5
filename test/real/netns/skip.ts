// Skipping real-mode suites where they cannot run (CI=true: failing instead).
import { describe } from "@jest/globals";
import { existsSync } from "node:fs";
import { describeWithNetns } from "../../helpers/netns.ts";

/** describeWithNetns, also skipping (CI=true: failing) when iputils' ping is not installed. */
export function describeWithNetnsAndPing(what: string): typeof describe | typeof describe.skip {
  const hasPing = ["/usr/bin/ping", "/bin/ping", "/usr/sbin/ping"].some((p) => existsSync(p));
  if (!hasPing && process.env.CI !== "true") {
    console.warn(`skipping ${what}: ping (iputils-ping) is not installed`);
    return describe.skip;
  }
  return describeWithNetns(what);
}
