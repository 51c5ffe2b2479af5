// bin/birdcage.js as a child process writing to a pipe: large output arrives whole (process.exit
// used to cut it at the pipe's 64 KiB).
import { expect, test } from "@jest/globals";
import { spawnCli } from "../helpers/cli.ts";

test("800 KB of JSON through a pipe arrives whole", async () => {
  const r = await spawnCli(["topo", "show", "-o", "json", "topologies/cluster-1000.yaml"]);
  expect(r.code).toBe(0);
  expect(r.stdout.length).toBeGreaterThan(256 * 1024);
  const j = JSON.parse(r.stdout) as { nodes: unknown[] };
  expect(j.nodes).toHaveLength(1000);
}, 60_000);
