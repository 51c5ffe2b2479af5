// NftSession: one `nft -i` in a scratch namespace applies transactions in order, all or nothing,
// reports nft's errors for the transaction that had them, survives a killed nft, and leaves no
// process behind after close().
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { NftSession } from "../../../real/agent/nft-session.ts";
import { hasCommand, labSkipReason } from "../policy/lab.ts";

const reason = labSkipReason() ?? (hasCommand("nft") ? undefined : "nft is not installed");
const suite = reason === undefined || process.env.CI === "true" ? describe : describe.skip;
if (reason !== undefined && process.env.CI !== "true") console.warn(`skipping nft session tests: ${reason}`);

const ns = `bc-ns-${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
const list = async (): Promise<string> => String((await execa("ip", ["netns", "exec", ns, "nft", "list", "ruleset"], { reject: false })).stdout);

suite("NftSession", () => {
  beforeAll(async () => {
    await execa("ip", ["netns", "add", ns]);
  });
  afterAll(async () => {
    await execa("ip", ["netns", "delete", ns], { reject: false });
  });

  test("applies transactions in order; a failing one changes nothing and reports nft's error", async () => {
    const s = new NftSession({ netns: ns });
    try {
      const [a, b] = await Promise.all([
        s.run("table inet bc-t {\n\tchain c {\n\t\ttcp dport 80 accept comment \"one\"\n\t}\n}\n"),
        s.run("add rule inet bc-t c tcp dport 81 drop\n"),
      ]);
      expect(a).toEqual({ ok: true, stderr: "" });
      expect(b).toEqual({ ok: true, stderr: "" });
      expect(await list()).toMatch(/dport 80 accept comment "one"\n\s*tcp dport 81 drop/);

      // The first command is fine, the second names a chain that does not exist: neither applies.
      const bad = await s.run("add chain inet bc-t d\nadd rule inet bc-t nosuchchain drop\n");
      expect(bad.ok).toBe(false);
      expect(bad.stderr).toMatch(/Error: .*No such file or directory/);
      expect(bad.stderr).toContain("nosuchchain");
      expect(bad.stderr).not.toContain("bc-sync");
      expect(await list()).not.toContain("chain d");

      // The session goes on after a failure, with the error not carried into the next answer.
      expect(await s.run("add chain inet bc-t e\n")).toEqual({ ok: true, stderr: "" });
      expect(await list()).toContain("chain e");
      const syntax = await s.run("add rule inet bc-t e tcp dport 80 acept\n");
      expect(syntax.ok).toBe(false);
      expect(syntax.stderr).toMatch(/syntax error/);
      expect(await s.run("")).toEqual({ ok: true, stderr: "" });
      expect(s.starts).toBe(1);
    } finally {
      await s.close();
    }
  });

  test("a killed nft is restarted for the next transaction; close() ends the process", async () => {
    const s = new NftSession({ netns: ns });
    await s.run("add table inet bc-k\n");
    const first = s.pid!;
    expect(existsSync(`/proc/${first}`)).toBe(true);
    process.kill(first, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    expect(await s.run("add chain inet bc-k c\n")).toEqual({ ok: true, stderr: "" });
    expect(s.starts).toBe(2);
    const second = s.pid!;
    expect(second).not.toBe(first);
    expect(await list()).toContain("chain c");
    await s.close();
    expect(s.pid).toBeUndefined();
    expect(existsSync(`/proc/${second}`)).toBe(false);
    await expect(s.run("add chain inet bc-k d\n")).rejects.toThrow(/closed/);
  });
});
