// The CNI plugin for real: a bc- "node" namespace (with an uplink and a default route, as a node has)
// and bc- "pod" namespaces; the plugin runs as a process inside the node namespace
// (`ip netns exec NODE node bin/birdcage.js cni`), with etcd reached through a unix socket (etcd's
// 127.0.0.1 is not reachable from another network namespace).
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import { execa } from "execa";
import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeWithEtcd } from "../../helpers/etcd.ts";
import { addNetns, delNetns, describeWithNetns, ip } from "../../helpers/netns.ts";
import { repoRoot } from "../../helpers/paths.ts";
import { EtcdDatastore } from "../../../real/datastore/etcd.ts";
import { Ipam } from "../../../src/core/ipam/index.ts";
import { workloadInterfaceName } from "../../../src/core/policy/render/plan.ts";

const tag = `${process.pid}`;
const NODE = `bc-cni-test-${tag}-node`;
const POD = `bc-cni-test-${tag}-pod`;
const POD2 = `bc-cni-test-${tag}-pod2`;
const POD3 = `bc-cni-test-${tag}-pod3`;
const POD4 = `bc-cni-test-${tag}-pod4`;
const POD6 = `bc-cni-test-${tag}-pod6`;
const PODF = `bc-cni-test-${tag}-podf`;
const PODF2 = `bc-cni-test-${tag}-podf2`;
const PARALLEL = [1, 2, 3, 4].map((i) => `bc-cni-test-${tag}-par${i}`);
const ALL_NS = [NODE, POD, POD2, POD3, POD4, POD6, PODF, PODF2, ...PARALLEL];
const POOL6 = { name: "default-ipv6-ippool", cidr: "fd00:10:244::/48", blockSize: 122 };
const STORE_NS = `cni-test-${tag}`;
const POOL = { name: "default-ipv4-ippool", cidr: "10.244.0.0/16", blockSize: 26 };
const HOST_IF = workloadInterfaceName("default", "web-0");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

describeWithNetns("CNI plugin tests")("birdcage cni in network namespaces", () => {
  describeWithEtcd(
    "with etcd",
    (etcd) => {
      let store: EtcdDatastore;
      let ipam: Ipam;
      let faultDir: string;
      const conf = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
        cniVersion: "1.0.0",
        name: "k8s-pod-network",
        type: "birdcage",
        mtu: 1430,
        nodename: "node-1",
        datastore: { type: "etcd", endpoints: [etcd.server().unixEndpoint], namespace: STORE_NS },
        ipam: { type: "birdcage-ipam", pools: [POOL] },
        ...over,
      });
      const env = (command: string, containerId: string, netns: string | undefined, pod = "web-0"): Record<string, string> => ({
        CNI_COMMAND: command,
        CNI_CONTAINERID: containerId,
        ...(netns !== undefined ? { CNI_NETNS: `/run/netns/${netns}` } : {}),
        CNI_IFNAME: "eth0",
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod}`,
        CNI_PATH: join(repoRoot, "bin"),
      });
      const run = async (vars: Record<string, string>, config: unknown, opts: { path?: string; shim?: boolean } = {}): Promise<Run> => {
        const cmd = opts.shim ? [join(repoRoot, "bin/birdcage-cni")] : [process.execPath, join(repoRoot, "bin/birdcage.js"), "cni"];
        const r = await execa("ip", ["netns", "exec", NODE, ...cmd], {
          input: typeof config === "string" ? config : JSON.stringify(config),
          env: { ...vars, PATH: opts.path ?? process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
          extendEnv: false,
          reject: false,
          timeout: 60_000,
        });
        const stdout = String(r.stdout);
        return { code: r.exitCode ?? -1, stdout, stderr: String(r.stderr), json: stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined };
      };
      const podAddr = (r: Run): string => ((r.json?.["ips"] as { address: string }[])[0]!.address).split("/")[0]!;
      const links = async (ns: string): Promise<string[]> => (JSON.parse(await ip("-n", ns, "-j", "link", "show")) as { ifname: string }[]).map((l) => l.ifname);

      beforeAll(async () => {
        await delNetns(...ALL_NS);
        for (const ns of ALL_NS) await addNetns(ns);
        // A node has an uplink and a default route; proxy ARP for 169.254.1.1 needs that route.
        // (no dummy driver in every kernel: a veth pair with both ends in the node stands in)
        await ip("-n", NODE, "link", "add", "bc-uplink", "type", "veth", "peer", "name", "bc-uplink-p");
        await ip("-n", NODE, "address", "add", "192.0.2.1/24", "dev", "bc-uplink");
        await ip("-n", NODE, "link", "set", "bc-uplink", "up");
        await ip("-n", NODE, "link", "set", "bc-uplink-p", "up");
        await ip("-n", NODE, "route", "add", "default", "via", "192.0.2.254", "dev", "bc-uplink");
        await ip("-n", NODE, "address", "add", "2001:db8:1::1/64", "dev", "bc-uplink", "nodad");
        store = new EtcdDatastore({ endpoints: etcd.endpoint(), namespace: STORE_NS });
        ipam = new Ipam(store, { pools: [POOL] });
        // Fault injection: an `ip` that runs the real one but refuses the pod's default route.
        faultDir = await mkdtemp(join(tmpdir(), "bc-cni-fault-"));
        const realIp = execFileSync("sh", ["-c", "command -v ip"], { encoding: "utf8" }).trim();
        await writeFile(
          join(faultDir, "ip"),
          `#!/bin/sh\nif [ "$1" = "-batch" ]; then\n  input=$(cat)\n  case "$input" in *"route replace default"*) echo "injected failure" >&2; exit 1;; esac\n  printf '%s\\n' "$input" | exec ${realIp} "$@"\nfi\nexec ${realIp} "$@"\n`,
        );
        await chmod(join(faultDir, "ip"), 0o755);
      }, 60_000);

      afterAll(async () => {
        await delNetns(...ALL_NS);
        await store?.deleteNamespace().catch(() => undefined);
        await store?.close();
        if (faultDir) await rm(faultDir, { recursive: true, force: true });
      }, 150_000);

      test("VERSION through the bin/birdcage-cni shim", async () => {
        const r = await run({ CNI_COMMAND: "VERSION" }, { cniVersion: "0.4.0" }, { shim: true });
        expect(r.code).toBe(0);
        expect(r.json).toEqual({ cniVersion: "0.4.0", supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0"] });
      }, 60_000);

      let first: Run;
      test("ADD: address, MTU and routes in the pod, /32 route and proxy ARP on the node, IPAM attributes", async () => {
        first = await run(env("ADD", "c0ffee01", POD), conf());
        expect(first.stderr).toBe("");
        expect(first.code).toBe(0);
        const res = first.json!;
        expect(res["cniVersion"]).toBe("1.0.0");
        expect(res["interfaces"]).toEqual([
          { name: HOST_IF, mac: "ee:ee:ee:ee:ee:ee" },
          { name: "eth0", mac: expect.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/), sandbox: `/run/netns/${POD}` },
        ]);
        const addr = podAddr(first);
        expect(addr).toMatch(/^10\.244\.\d+\.\d+$/);
        expect(res["ips"]).toEqual([{ address: `${addr}/32`, gateway: "169.254.1.1", interface: 1 }]);
        expect(res["routes"]).toEqual([{ dst: "0.0.0.0/0", gw: "169.254.1.1" }]);

        const eth0 = (JSON.parse(await ip("-n", POD, "-j", "address", "show", "dev", "eth0")) as { mtu: number; addr_info: { family: string; local: string; prefixlen: number }[] }[])[0]!;
        expect(eth0.mtu).toBe(1430);
        expect(eth0.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${addr}/32`]);
        const podRoutes = JSON.parse(await ip("-n", POD, "-j", "-4", "route", "show")) as { dst: string; gateway?: string; dev: string; scope?: string }[];
        expect(podRoutes).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ dst: "default", gateway: "169.254.1.1", dev: "eth0" }),
            expect.objectContaining({ dst: "169.254.1.1", dev: "eth0", scope: "link" }),
          ]),
        );
        const host = (JSON.parse(await ip("-n", NODE, "-j", "link", "show", "dev", HOST_IF)) as { mtu: number; ifalias?: string }[])[0]!;
        expect(host.mtu).toBe(1430);
        expect(host.ifalias).toBe("bc-cni:k8s-pod-network:c0ffee01");
        const nodeRoute = JSON.parse(await ip("-n", NODE, "-j", "route", "show", "exact", `${addr}/32`)) as { dev: string; protocol: string }[];
        expect(nodeRoute).toEqual([expect.objectContaining({ dev: HOST_IF, protocol: "202" })]);
        const { stdout: proxyArp } = await execa("ip", ["netns", "exec", NODE, "cat", `/proc/sys/net/ipv4/conf/${HOST_IF}/proxy_arp`]);
        expect(proxyArp.trim()).toBe("1");

        expect(await ipam.addressesByHandle("k8s-pod-network.c0ffee01")).toEqual([addr]);
        const info = await ipam.lookup(addr);
        expect(info).toEqual(expect.objectContaining({ allocated: true, handleId: "k8s-pod-network.c0ffee01", blockHost: "node-1" }));
        expect(info.attributes).toEqual(expect.objectContaining({ pod: "web-0", namespace: "default", node: "node-1" }));
      }, 150_000);

      test("the node reaches the pod: ping -c 2 -W 1", async () => {
        const r = await execa("ip", ["netns", "exec", NODE, "ping", "-c", "2", "-W", "1", podAddr(first)], { reject: false });
        expect(r.stdout).toMatch(/2 received/);
        expect(r.exitCode).toBe(0);
      }, 30_000);

      test("a second pod on the node: next address of the node's block, pods reach each other through the node", async () => {
        const second = await run(env("ADD", "c0ffee04", POD4, "web-4"), conf());
        expect(second.code).toBe(0);
        const [a, b] = [podAddr(first), podAddr(second)];
        expect(b).not.toBe(a);
        expect((await ipam.lookup(b)).block).toBe((await ipam.lookup(a)).block);
        // Forwarding is on per host-side veth (Calico's way), so the node needs no global ip_forward.
        const r = await execa("ip", ["netns", "exec", POD4, "ping", "-c", "2", "-W", "1", a], { reject: false });
        expect(r.stdout).toMatch(/2 received/);
        expect((await run(env("DEL", "c0ffee04", POD4, "web-4"), conf())).code).toBe(0);
        expect(await ipam.addressesByHandle("k8s-pod-network.c0ffee04")).toEqual([]);
      }, 150_000);

      test("ADD again with the same container ID (through the shim): the same result, no second address", async () => {
        const again = await run(env("ADD", "c0ffee01", POD), conf(), { shim: true });
        expect(again.code).toBe(0);
        expect(again.json).toEqual(first.json);
        expect(await ipam.addressesByHandle("k8s-pod-network.c0ffee01")).toEqual([podAddr(first)]);
      }, 150_000);

      test("CHECK with prevResult passes with no output; a 0.3.1 config may not CHECK", async () => {
        const ok = await run(env("CHECK", "c0ffee01", POD), conf({ prevResult: first.json }));
        expect(ok).toEqual(expect.objectContaining({ code: 0, stdout: "" }));
        const old = await run(env("CHECK", "c0ffee01", POD), conf({ cniVersion: "0.3.1", prevResult: first.json }));
        expect(old.code).toBe(1);
        expect(old.json).toEqual(expect.objectContaining({ cniVersion: "0.3.1", code: 1 }));
      }, 150_000);

      test("CHECK fails when the node has no route to 169.254.1.1 (proxy ARP could not answer the pod)", async () => {
        await ip("-n", NODE, "route", "del", "default");
        try {
          const r = await run(env("CHECK", "c0ffee01", POD), conf({ prevResult: first.json }), { shim: true });
          expect(r.code).toBe(1);
          expect(r.json).toEqual(expect.objectContaining({ code: 102, msg: expect.stringMatching(/no route to 169.254.1.1/) }));
        } finally {
          await ip("-n", NODE, "route", "add", "default", "via", "192.0.2.254", "dev", "bc-uplink");
        }
      }, 150_000);

      test("CHECK reports a removed pod route (102); ADD repairs it with the same address", async () => {
        await ip("-n", POD, "route", "del", "default");
        const bad = await run(env("CHECK", "c0ffee01", POD), conf({ prevResult: first.json }));
        expect(bad.code).toBe(1);
        expect(bad.json).toEqual(expect.objectContaining({ code: 102, msg: "pod route default via 169.254.1.1 dev eth0 is missing" }));
        const repaired = await run(env("ADD", "c0ffee01", POD), conf());
        expect(repaired.code).toBe(0);
        expect(podAddr(repaired)).toBe(podAddr(first));
        expect((await run(env("CHECK", "c0ffee01", POD), conf({ prevResult: repaired.json }))).code).toBe(0);
      }, 150_000);

      test("DEL removes veth, routes and the address; DEL twice and DEL of an unknown container succeed", async () => {
        const addr = podAddr(first);
        const del = await run(env("DEL", "c0ffee01", POD), conf({ prevResult: first.json }));
        expect(del).toEqual(expect.objectContaining({ code: 0, stdout: "" }));
        expect(await links(NODE)).not.toContain(HOST_IF);
        expect(await links(POD)).toEqual(["lo"]);
        expect(await ip("-n", NODE, "route", "show", "exact", `${addr}/32`)).toBe("");
        expect(await ipam.addressesByHandle("k8s-pod-network.c0ffee01")).toEqual([]);
        expect(await ipam.lookup(addr)).toEqual(expect.objectContaining({ allocated: false, handleId: null }));
        expect((await run(env("DEL", "c0ffee01", POD), conf())).code).toBe(0);
        expect((await run(env("DEL", "never-added", undefined, "ghost"), conf())).code).toBe(0);
      }, 150_000);

      test("a failure after the address was allocated leaves nothing behind (veth removed, address released)", async () => {
        const r = await run(env("ADD", "c0ffee02", POD2, "web-2"), conf(), { path: `${faultDir}:${process.env.PATH ?? "/usr/sbin:/usr/bin"}` });
        expect(r.code).toBe(1);
        expect(r.json).toEqual(expect.objectContaining({ code: 101, msg: "dataplane change failed" }));
        expect(String((r.json as { details?: string }).details)).toMatch(/injected failure/);
        expect(await links(NODE)).not.toContain(workloadInterfaceName("default", "web-2"));
        expect(await links(POD2)).toEqual(["lo"]);
        expect(await ipam.addressesByHandle("k8s-pod-network.c0ffee02")).toEqual([]);
        expect(await ip("-n", NODE, "route", "show", "proto", "202")).toBe("");
      }, 150_000);

      test("refusals before anything is allocated: unknown netns (3), foreign eth0 in the pod (103)", async () => {
        const gone = await run(env("ADD", "c0ffee03", `bc-cni-test-${tag}-missing`, "web-3"), conf());
        expect(gone.code).toBe(1);
        expect(gone.json).toEqual(expect.objectContaining({ code: 3 }));
        await ip("-n", POD3, "link", "add", "eth0", "type", "veth", "peer", "name", "bc-other");
        const taken = await run(env("ADD", "c0ffee03", POD3, "web-3"), conf());
        expect(taken.code).toBe(1);
        expect(taken.json).toEqual(expect.objectContaining({ code: 103 }));
        expect(await ipam.addressesByHandle("k8s-pod-network.c0ffee03")).toEqual([]);
        expect(await links(NODE)).not.toContain(workloadInterfaceName("default", "web-3"));
      }, 150_000);

      test("a fixed address (Calico's cni.projectcalico.org/ipAddrs, passed in args.annotations): exactly that one; taken or outside the pools is an IPAM error (100) leaving nothing behind; a malformed annotation is 7", async () => {
        const fixed = (ips: string) => conf({ args: { annotations: { "cni.projectcalico.org/ipAddrs": ips } } });
        const r = await run(env("ADD", "f1xed001", PODF, "fixed-1"), fixed('["10.244.200.7"]'));
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        expect(r.json?.["ips"]).toEqual([{ address: "10.244.200.7/32", gateway: "169.254.1.1", interface: 1 }]);
        expect(await ipam.addressesByHandle("k8s-pod-network.f1xed001")).toEqual(["10.244.200.7"]);
        expect(JSON.parse(await ip("-n", PODF, "-j", "-4", "address", "show", "dev", "eth0"))[0].addr_info.map((a: { local: string }) => a.local)).toEqual(["10.244.200.7"]);
        const ping = await execa("ip", ["netns", "exec", NODE, "ping", "-c", "1", "-W", "2", "10.244.200.7"], { reject: false });
        expect(ping.exitCode).toBe(0);
        // ADD again: idempotent, the same address.
        expect((await run(env("ADD", "f1xed001", PODF, "fixed-1"), fixed('["10.244.200.7"]'))).json).toEqual(r.json);

        const taken = await run(env("ADD", "f1xed002", PODF2, "fixed-2"), fixed('["10.244.200.7"]'));
        expect(taken.code).toBe(1);
        expect(taken.json).toEqual(expect.objectContaining({ code: 100, msg: expect.stringMatching(/10\.244\.200\.7 already assigned/) }));
        const outside = await run(env("ADD", "f1xed002", PODF2, "fixed-2"), fixed('["10.99.0.1"]'));
        expect(outside.json).toEqual(expect.objectContaining({ code: 100, msg: expect.stringMatching(/10\.99\.0\.1 is not in a configured pool/) }));
        for (const bad of ["10.244.200.8", '["nope"]', '["10.244.200.8","10.244.200.9"]', "[]"]) {
          const x = await run(env("ADD", "f1xed002", PODF2, "fixed-2"), fixed(bad));
          expect(x.json).toEqual(expect.objectContaining({ code: 7, msg: expect.stringMatching(/^annotation cni\.projectcalico\.org\/ipAddrs: /) }));
        }
        expect(await ipam.addressesByHandle("k8s-pod-network.f1xed002")).toEqual([]);
        expect(await links(PODF2)).toEqual(["lo"]);
        expect(await links(NODE)).not.toContain(workloadInterfaceName("default", "fixed-2"));

        expect((await run(env("DEL", "f1xed001", PODF, "fixed-1"), conf())).code).toBe(0);
        expect(await ipam.addressesByHandle("k8s-pod-network.f1xed001")).toEqual([]);
        expect((await ipam.lookup("10.244.200.7")).allocated).toBe(false);
      }, 150_000);

      test("dual stack (assign_ipv6): /32 and /128 on eth0, both default routes, node routes, ping -6 from the node, CHECK, DEL", async () => {
        const dual = conf({ ipam: { type: "birdcage-ipam", assign_ipv6: "true", pools: [POOL, POOL6] } });
        const r = await run(env("ADD", "c0ffee06", POD6, "web-6"), dual, { shim: true });
        expect(r.code).toBe(0);
        const ips = (r.json?.["ips"] as { address: string; gateway: string }[]).map((i) => [i.address, i.gateway]);
        expect(ips).toEqual([
          [expect.stringMatching(/^10\.244\.[\d.]+\/32$/), "169.254.1.1"],
          [expect.stringMatching(/^fd00:10:244:[0-9a-f:]+\/128$/), "fe80::ecee:eeff:feee:eeee"],
        ]);
        const a6 = ips[1]![0]!.split("/")[0]!;
        expect(r.json?.["routes"]).toEqual([{ dst: "0.0.0.0/0", gw: "169.254.1.1" }, { dst: "::/0", gw: "fe80::ecee:eeff:feee:eeee" }]);
        const v6routes = JSON.parse(await ip("-n", POD6, "-j", "-6", "route", "show")) as { dst: string; gateway?: string; dev: string }[];
        expect(v6routes).toEqual(expect.arrayContaining([expect.objectContaining({ dst: "default", gateway: "fe80::ecee:eeff:feee:eeee", dev: "eth0" })]));
        const hostIf6 = workloadInterfaceName("default", "web-6");
        expect(JSON.parse(await ip("-n", NODE, "-j", "-6", "route", "show", "exact", `${a6}/128`))).toEqual([expect.objectContaining({ dev: hostIf6, protocol: "202" })]);
        const ping = await execa("ip", ["netns", "exec", NODE, "ping", "-6", "-c", "2", "-W", "1", a6], { reject: false });
        expect(ping.stdout).toMatch(/2 received/);
        expect((await run(env("CHECK", "c0ffee06", POD6, "web-6"), { ...dual, prevResult: r.json }, { shim: true })).code).toBe(0);
        expect((await run(env("DEL", "c0ffee06", POD6, "web-6"), dual, { shim: true })).code).toBe(0);
        expect(await ipam.addressesByHandle("k8s-pod-network.c0ffee06")).toEqual([]);
        expect(await ip("-n", NODE, "-6", "route", "show", "proto", "202")).toBe("");
        expect(await links(POD6)).toEqual(["lo"]);
      }, 300_000);

      test("concurrent ADDs of four pods on the node get four addresses; concurrent DELs release them", async () => {
        const ids = PARALLEL.map((_, i) => `par${i}`);
        const adds = await Promise.all(PARALLEL.map((ns, i) => run(env("ADD", ids[i]!, ns, `par-${i}`), conf(), { shim: true })));
        expect(adds.map((r) => r.code)).toEqual([0, 0, 0, 0]);
        const addrs = adds.map(podAddr);
        expect(new Set(addrs).size).toBe(4);
        for (const [i, a] of addrs.entries()) expect(await ipam.addressesByHandle(`k8s-pod-network.${ids[i]}`)).toEqual([a]);
        const dels = await Promise.all(PARALLEL.map((ns, i) => run(env("DEL", ids[i]!, ns, `par-${i}`), conf(), { shim: true })));
        expect(dels.map((r) => r.code)).toEqual([0, 0, 0, 0]);
        for (const id of ids) expect(await ipam.addressesByHandle(`k8s-pod-network.${id}`)).toEqual([]);
        expect(await ip("-n", NODE, "route", "show", "proto", "202")).toBe("");
      }, 300_000);

      test("etcd unreachable: try again later (11)", async () => {
        const r = await run(env("DEL", "c0ffee05", undefined, "web-5"), conf({ datastore: { type: "etcd", endpoints: ["unix:///nonexistent/bc-etcd.sock:0"], namespace: STORE_NS, timeoutMs: 500 } }));
        expect(r.code).toBe(1);
        expect(r.json).toEqual(expect.objectContaining({ code: 11 }));
      }, 150_000);
    },
    { unixSocket: true },
  );
});
