// The standalone speaker's graceful-restart options: a restart with selection deferral reaches the
// core, and only a restart that kept its forwarding state keeps the kernel routes an earlier run left.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { SpeakerDaemon } from "../../../real/bgp/daemon.ts";
import { speakerConfigSchema } from "../../../real/bgp/daemon-config.ts";
import { addNetns, delNetns, describeWithNetns, ip, testNetnsName } from "../../helpers/netns.ts";

const base = { asNumber: 64512, routerId: "192.0.2.1", peers: [{ address: "192.0.2.2", asNumber: 64513 }] };

describe("speaker daemon graceful restart config", () => {
  test("restarting with selectionDeferral makes the core defer best-path selection", () => {
    const restarted = new SpeakerDaemon(speakerConfigSchema.parse({ ...base, gracefulRestart: { restartTime: 120, restarting: true, forwarding: true, selectionDeferral: 90 } }), { log: () => undefined });
    expect(restarted.speaker.selectionDeferred).toBe(true);
    const plain = new SpeakerDaemon(speakerConfigSchema.parse({ ...base, gracefulRestart: { restartTime: 120 } }), { log: () => undefined });
    expect(plain.speaker.selectionDeferred).toBe(false);
  });

  test("a deferral of 0 s or unknown graceful-restart fields are refused", () => {
    expect(speakerConfigSchema.safeParse({ ...base, gracefulRestart: { restartTime: 120, restarting: true, selectionDeferral: 0 } }).success).toBe(false);
    expect(speakerConfigSchema.safeParse({ ...base, gracefulRestart: { restartTime: 120, deferral: 5 } }).success).toBe(false);
  });
});

describeWithNetns("speaker daemon start and kernel routes left by an earlier run")("leftover kernel routes", () => {
  const ns = testNetnsName("dstart");
  beforeAll(async () => {
    await addNetns(ns);
    // A veth pair inside the namespace (no dummy module on this kernel), for a connected next hop.
    await ip("-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1");
    await ip("-n", ns, "addr", "add", "192.0.2.1/24", "dev", "d0");
    await ip("-n", ns, "link", "set", "d1", "up");
    await ip("-n", ns, "link", "set", "d0", "up");
  });
  afterAll(async () => {
    await delNetns(ns);
  });
  const routes = async (): Promise<string> => ip("-n", ns, "-4", "route", "show", "proto", "201").then((a) => ip("-n", ns, "-4", "route", "show", "proto", "202").then((b) => a + b));
  const leave = async (): Promise<void> => {
    await ip("-n", ns, "route", "replace", "10.99.0.0/24", "via", "192.0.2.9", "proto", "201");
    await ip("-n", ns, "route", "replace", "10.98.0.0/24", "via", "192.0.2.9", "proto", "202");
  };
  const daemon = (gracefulRestart: object): SpeakerDaemon =>
    new SpeakerDaemon(speakerConfigSchema.parse({ asNumber: 64512, routerId: "192.0.2.1", gracefulRestart, kernel: { install: true, protocol: 201, netns: ns } }), { log: () => undefined });

  test("a fresh start removes our protocol's leftover routes (and only those); a restart keeping forwarding state keeps them", async () => {
    await leave();
    const fresh = daemon({ restartTime: 120 });
    await fresh.start();
    const after = await routes();
    expect(after).not.toContain("10.99.0.0/24");
    expect(after).toContain("10.98.0.0/24");
    fresh.speaker.stop();

    await leave();
    const restarted = daemon({ restartTime: 120, restarting: true, forwarding: true, selectionDeferral: 30 });
    await restarted.start();
    expect(await routes()).toContain("10.99.0.0/24");
    restarted.speaker.stop();
  }, 30_000);
});
