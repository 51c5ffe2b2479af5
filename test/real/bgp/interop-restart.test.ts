// birdcage as the *restarting* speaker (RFC 4724 §4.1) against BIRD 2 as helper: the daemon is killed
// with -9 and started again with `restarting`, `forwarding` and `selectionDeferral`. BIRD keeps our
// routes through the restart and drops, at our End-of-RIB, the one we no longer originate; our kernel
// route from BIRD stays in place through the restart (forwarding state kept), and our speaker selects
// only after BIRD's End-of-RIB.
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { execa, type ResultPromise } from "execa";
import { join } from "node:path";
import { closeLab, describeInterop, kernelRoutes, makeLab, routesOf, runSpeaker, stateOf, until, writeFile, type Lab } from "./interop-lab.ts";

const describeBird = describeInterop("BIRD restart interop", ["bird", "birdc"]);

describeBird("birdcage restarting with BIRD as graceful-restart helper", () => {
  let lab: Lab | undefined;
  const children: ResultPromise[] = [];
  let speaker: ResultPromise | undefined;
  let speakerLog = "";
  let sock = "";
  let birdSock = "";
  const birdc = async (...args: string[]): Promise<string> => String((await execa("birdc", ["-s", birdSock, ...args], { reject: false, timeout: 10_000 })).stdout);
  const config = (restart: string, originate: string[]): string =>
    writeFile(
      lab!,
      `bc-${restart ? "restart" : "first"}.yaml`,
      `asNumber: 64512
routerId: 192.0.2.1
listen: { address: 192.0.2.1, port: 179 }
gracefulRestart: { restartTime: 60${restart} }
import: all                       # eBGP: RFC 8212 denies without a policy
export: all
peers:
  - { address: 192.0.2.2, asNumber: 64513, holdTime: 9, connectRetryTime: 1 }
originate: [${originate.join(", ")}]
kernel: { install: true, protocol: 201 }
control: { socket: ${sock} }
`,
    );
  const start = (file: string): void => {
    speaker = runSpeaker(lab!.bc, file);
    speaker.stderr?.on("data", (d: Buffer) => (speakerLog += String(d)));
    children.push(speaker);
  };

  beforeAll(async () => {
    lab = await makeLab("brst");
    sock = join(lab.dir, "bc.sock");
    birdSock = join(lab.dir, "bird.ctl");
    const birdConf = writeFile(
      lab,
      "bird.conf",
      `router id 192.0.2.2;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 10.20.0.0/24 blackhole; }
protocol bgp bc4 { local 192.0.2.2 as 64513; neighbor 192.0.2.1 as 64512; hold time 9; connect retry time 1; error wait time 1,5; graceful restart on; ipv4 { import all; export where source = RTS_STATIC; }; }
`,
    );
    children.push(execa("ip", ["netns", "exec", lab.peer, "bird", "-f", "-c", birdConf, "-s", birdSock, "-P", join(lab.dir, "bird.pid")], { reject: false, timeout: 300_000 }));
    start(config("", ["10.10.0.0/24", "10.11.0.0/24"]));
  }, 60_000);

  afterAll(async () => {
    await closeLab(lab, children, speaker);
  }, 30_000);

  test("before: both our prefixes in BIRD, BIRD's in our kernel", async () => {
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established", "Established", 40_000);
    await until(async () => (await birdc("show", "route", "protocol", "bc4")).includes("10.11.0.0/24"), "our routes in BIRD");
    expect(await birdc("show", "route", "protocol", "bc4")).toContain("10.10.0.0/24");
    await until(async () => (await kernelRoutes(lab!.bc, 4)).includes("10.20.0.0/24 via 192.0.2.2"), "BIRD's route in our kernel");
  }, 60_000);

  test("kill -9, then a restart with selection deferral: BIRD keeps our routes, drops the one we no longer originate at our End-of-RIB; our kernel route never left", async () => {
    speaker!.kill("SIGKILL");
    await speaker;
    // BIRD, as helper, keeps what we announced (stale) while we are away; our kernel keeps its route.
    await until(async () => !/bc4\s+BGP\s+\S+\s+up\s+\S+\s+Established/.test(await birdc("show", "protocols")), "BIRD to see us go", 30_000);
    expect(await birdc("show", "route", "protocol", "bc4")).toContain("10.11.0.0/24");
    expect(await kernelRoutes(lab!.bc, 4)).toMatch(/^10\.20\.0\.0\/24 via 192\.0\.2\.2/m);

    speakerLog = "";
    start(config(", restarting: true, forwarding: true, selectionDeferral: 30", ["10.10.0.0/24"]));
    await until(async () => (await stateOf(sock, "192.0.2.2")) === "Established", "re-established", 40_000);
    // Selection ran after BIRD's End-of-RIB, not after the 30 s timer.
    await until(() => speakerLog.includes("best-path selection after End-of-RIB from every peer"), "selection after End-of-RIB", 20_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${speakerLog.slice(-2000)}`);
    });
    expect(speakerLog).not.toContain("selection deferral timer ran out");
    await until(async () => (await routesOf(sock)).some((r) => r.prefix === "10.20.0.0/24" && r.best), "BIRD's route selected");
    // At our End-of-RIB BIRD purges the stale route we did not announce again, and keeps the other.
    await until(async () => !(await birdc("show", "route", "protocol", "bc4")).includes("10.11.0.0/24"), "10.11.0.0/24 gone from BIRD", 20_000);
    expect(await birdc("show", "route", "protocol", "bc4")).toContain("10.10.0.0/24");
    expect(await kernelRoutes(lab!.bc, 4)).toMatch(/^10\.20\.0\.0\/24 via 192\.0\.2\.2/m);
  }, 120_000);
});
