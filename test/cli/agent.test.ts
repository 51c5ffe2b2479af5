// `birdcage agent` refuses bad input with exit 2 before touching the kernel (the running agent is
// tested for real in test/real/agent/daemon.test.ts).
import { describe, expect, test } from "@jest/globals";
import { runCli } from "../helpers/cli.ts";

describe("birdcage agent: bad input", () => {
  test("--topology and --node are required", async () => {
    const r = await runCli(["agent", "-n", "node-1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs --topology FILE and --node NAME/);
  });

  test("a missing topology file", async () => {
    const r = await runCli(["agent", "-t", "no-such.yaml", "-n", "node-1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-such\.yaml: no such file/);
  });

  test("a node the topology does not have", async () => {
    const r = await runCli(["agent", "-t", "topologies/quickstart.yaml", "-n", "node-9"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/node node-9 is not in the cluster \(known: node-1, node-2, node-3, node-4\)/);
  });

  test("a bad hold time and a bad policy format", async () => {
    expect((await runCli(["agent", "-t", "topologies/quickstart.yaml", "-n", "node-1", "--hold-time", "2"])).code).toBe(2);
    expect((await runCli(["agent", "-t", "topologies/quickstart.yaml", "-n", "node-1", "--policy", "pf"])).code).toBe(2);
  });

  test("show: an unknown question, and a socket nobody listens on", async () => {
    expect((await runCli(["agent", "show", "everything", "--socket", "/nonexistent.sock"])).code).toBe(2);
    const r = await runCli(["agent", "show", "sessions", "--socket", "/nonexistent.sock"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nonexistent\.sock/);
  });
});
