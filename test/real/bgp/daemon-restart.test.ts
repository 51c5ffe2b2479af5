// The standalone speaker's graceful-restart options: a restart with selection deferral reaches the core.
import { describe, expect, test } from "@jest/globals";
import { SpeakerDaemon } from "../../../real/bgp/daemon.ts";
import { speakerConfigSchema } from "../../../real/bgp/daemon-config.ts";

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
