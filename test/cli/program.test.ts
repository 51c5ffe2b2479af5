// Conventions every subcommand follows: --help works and exits 0; commands that print data accept
// --output table|json|yaml; unknown commands and options are usage errors (exit 2).
import { describe, expect, test } from "@jest/globals";
import type { Command } from "commander";
import { buildProgram } from "../../src/cli/main.ts";
import { runCli, spawnCli } from "../helpers/cli.ts";

function leaves(cmd: Command, path: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => {
    const p = [...path, c.name()];
    return c.commands.length ? [p, ...leaves(c, p)] : [p];
  });
}

describe("birdcage command", () => {
  const all = leaves(buildProgram());

  test("has subcommands", () => {
    expect(all.length).toBeGreaterThan(0);
  });

  test.each(all.map((p) => [p.join(" ")]))("`%s --help` exits 0 and prints usage", async (line) => {
    const r = await runCli([...line.split(" "), "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: birdcage /);
  });

  // Commands that run something rather than print data (daemons), or print a file in a format of
  // their own choosing (--format), are listed here by name. `cni` speaks the CNI protocol's JSON.
  const printsNoData = new Set(["bgp speaker", "topo export", "cni"]);
  const find = (line: string): Command | undefined =>
    line.split(" ").reduce<Command | undefined>((cmd, name) => cmd?.commands.find((c) => c.name() === name), buildProgram());
  const dataCommands = all.map((p) => p.join(" ")).filter((line) => !printsNoData.has(line) && find(line)?.commands.length === 0);
  test.each(dataCommands.map((line) => [line]))("`%s` takes --output table|json|yaml", (line) => {
    const output = find(line)?.options.find((o) => o.long === "--output");
    expect(output?.argChoices).toEqual(["table", "json", "yaml"]);
  });

  test("unknown command and unknown option are usage errors", async () => {
    expect((await runCli(["no-such-command"])).code).toBe(2);
    expect((await runCli(["--no-such-option"])).code).toBe(2);
  });

  test("the launcher runs the CLI as a process", async () => {
    const r = await spawnCli(["--version"]);
    expect(r).toMatchObject({ code: 0, stdout: "0.1.0" });
  });
});
