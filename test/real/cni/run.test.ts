// runCni in-process for the protocol paths that end before any kernel or datastore I/O (no root
// needed): every failure is one JSON error object on stdout with exit code 1.
import { describe, expect, test } from "@jest/globals";
import { runCni } from "../../../real/cni/plugin.ts";

const conf = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: "1.0.0",
    name: "k8s-pod-network",
    type: "birdcage",
    datastore: { type: "etcd", endpoints: ["http://127.0.0.1:1"] },
    ipam: { type: "birdcage-ipam", pools: [{ name: "p", cidr: "10.244.0.0/16" }] },
    ...over,
  });
const env = (command: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: "c0ffee", CNI_NETNS: "/run/netns/bc-cni-unit-test-does-not-exist", CNI_IFNAME: "eth0" });

async function err(e: Record<string, string>, stdin: string): Promise<Record<string, unknown>> {
  const r = await runCni({ env: e, stdin });
  expect(r.exitCode).toBe(1);
  expect(r.stdout.endsWith("\n")).toBe(true);
  expect(r.stdout.trim().split("\n")).toHaveLength(1);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe("runCni without I/O", () => {
  test("VERSION: empty stdin answers for 1.0.0, a request is echoed, garbage is a decoding failure", async () => {
    expect(await runCni({ env: { CNI_COMMAND: "VERSION" }, stdin: "" })).toEqual({
      exitCode: 0,
      stdout: '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}\n',
    });
    const r = await runCni({ env: { CNI_COMMAND: "VERSION" }, stdin: '{"cniVersion":"0.3.1"}' });
    expect(JSON.parse(r.stdout)).toEqual(expect.objectContaining({ cniVersion: "0.3.1" }));
    expect(await err({ CNI_COMMAND: "VERSION" }, "{")).toEqual(expect.objectContaining({ code: 6 }));
  });

  test("environment problems are code 4 and name the variable", async () => {
    expect(await err({}, conf())).toEqual({ cniVersion: "1.0.0", code: 4, msg: "CNI_COMMAND is not set", details: "invalid or missing: CNI_COMMAND" });
    expect(await err({ ...env("ADD"), CNI_IFNAME: "" }, conf())).toEqual(expect.objectContaining({ code: 4, msg: "CNI_IFNAME is not set (required for ADD)" }));
  });

  test("config problems: 6 not JSON, 1 version (echoed), 2 unknown field, 7 invalid value", async () => {
    expect(await err(env("ADD"), "not json")).toEqual(expect.objectContaining({ cniVersion: "1.0.0", code: 6 }));
    expect(await err(env("ADD"), conf({ cniVersion: "0.2.0" }))).toEqual(expect.objectContaining({ cniVersion: "0.2.0", code: 1 }));
    expect(await err(env("ADD"), conf({ cniVersion: "0.4.0", hairpinMode: true }))).toEqual(expect.objectContaining({ cniVersion: "0.4.0", code: 2, msg: "unsupported field hairpinMode=true" }));
    expect(await err(env("DEL"), conf({ mtu: 0 }))).toEqual(expect.objectContaining({ code: 7 }));
  });

  test("ADD: prevResult is refused (2), a missing netns is an unknown container (3)", async () => {
    expect(await err(env("ADD"), conf({ prevResult: { interfaces: [] } }))).toEqual(expect.objectContaining({ code: 2 }));
    expect(await err(env("ADD"), conf())).toEqual(expect.objectContaining({ code: 3, msg: "network namespace /run/netns/bc-cni-unit-test-does-not-exist does not exist" }));
  });

  test("CHECK: not before 0.4.0 (1), prevResult required (7)", async () => {
    expect(await err(env("CHECK"), conf({ cniVersion: "0.3.0" }))).toEqual(expect.objectContaining({ cniVersion: "0.3.0", code: 1 }));
    expect(await err(env("CHECK"), conf())).toEqual(expect.objectContaining({ code: 7, msg: "prevResult is required for CHECK" }));
  });
});
