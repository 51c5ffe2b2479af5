// `birdcage policy matrix -f ... --probes ...` (e2e truth tables, JSON results, stdin), `policy
// render`, and bad input: file:line:col errors, exit 2, nothing printed on stdout.
import { describe, expect, test } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadResources } from "../../src/core/model/index.ts";
import { PolicySet, policyInputFromResources } from "../../src/core/policy/index.ts";
import { renderNft } from "../../src/core/policy/render/nft.ts";
import { planNode } from "../../src/core/policy/render/plan.ts";
import { runCli, spawnCli } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/paths.ts";

const kubectl = join(repoRoot, "examples/policy/kubectl-get-ns-pods-netpol.yaml");

describe("birdcage policy matrix", () => {
  test("kubectl get ns,pods,networkpolicies -A -o yaml | birdcage policy matrix -f - (a real pipe)", async () => {
    const r = await spawnCli(["policy", "matrix", "-f", "-", "--probes", "80/TCP,82/TCP"], { input: readFileSync(kubectl, "utf8") });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // execa strips the final newline of a child's output.
    expect(`${r.stdout}\n`).toBe(
      [
        "80/TCP:",
        "-  \tx/a\tx/b\ty/a\ty/b\tz/c",
        // x/a admits only b pods of namespace y (AND); x/b admits namespace y or a pods of x (OR).
        "x/a\t.\t.\t.\t.\t.",
        "x/b\tX\t.\t.\t.\t.",
        "y/a\tX\t.\t.\t.\t.",
        "y/b\t.\t.\t.\t.\t.",
        "z/c\tX\tX\t.\t.\t.",
        "",
        "82/TCP:",
        "-  \tx/a\tx/b\ty/a\ty/b\tz/c",
        // y only admits TCP 80-81.
        "x/a\t.\t.\tX\tX\t.",
        "x/b\tX\t.\tX\tX\t.",
        "y/a\tX\t.\t.\tX\t.",
        "y/b\t.\t.\tX\t.\t.",
        "z/c\tX\tX\tX\tX\t.",
        "",
      ].join("\n"),
    );
  });

  test("--output json is exactly {results: [{from, to, protocol, port, allowed}]}", async () => {
    const r = await runCli(["policy", "matrix", "-f", kubectl, "--probes", "81/TCP,80/UDP", "-o", "json"]);
    expect(r.code).toBe(0);
    const data = JSON.parse(r.stdout) as { results: unknown[] };
    expect(Object.keys(data)).toEqual(["results"]);
    expect(data.results).toHaveLength(2 * 25);
    expect(data.results[0]).toEqual({ from: "x/a", to: "x/a", protocol: "TCP", port: 81, allowed: true });
    expect(data.results).toContainEqual({ from: "z/c", to: "y/a", protocol: "TCP", port: 81, allowed: true });
    // UDP is outside y's TCP-only range rule.
    expect(data.results).toContainEqual({ from: "z/c", to: "y/a", protocol: "UDP", port: 80, allowed: false });
    for (const x of data.results) expect(Object.keys(x as object)).toEqual(["from", "to", "protocol", "port", "allowed"]);
  });

  test("bad probes and missing files are usage errors", async () => {
    for (const probes of ["80/ICMP", "0/TCP", "http", "80/TCP,"]) {
      const r = await runCli(["policy", "matrix", "-f", kubectl, "--probes", probes]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--probes: bad probe");
      expect(r.stdout).toBe("");
    }
    const none = await runCli(["policy", "matrix"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no input: give resource files with -f FILE...");
  });
});

describe("birdcage policy eval -f", () => {
  test("--from NS/POD --to IP --protocol --port prints the verdict and the trace", async () => {
    const r = await runCli(["policy", "eval", "-f", kubectl, "--from", "x/a", "--to", "10.250.0.3", "--protocol", "TCP", "--port", "82"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      "DENIED",
      "egress of workload x/a: allowed by profile kns.x, rule 0",
      "  profile kns.x rule 0 matched: Allow",
      "ingress of workload y/a: denied at the end of tier default (no policy in the tier allowed or passed it)",
      "  tier default: y/knp.default.range",
      "    y/knp.default.range rule 0: destination.ports does not match",
      "    y/knp.default.range: no rule matched",
      "    end of tier default: default action Deny",
      "",
    ]);
  });
});

describe("bad policy input: file:line:col, exit 2, nothing loaded", () => {
  const cases: [string, string, RegExp][] = [
    ["invalid selector", "spec:\n  selector: app == 'a' &&\n", /^<stdin>:5:26: spec\.selector: invalid selector: .*column 14 of the selector/m],
    ["unknown action", "spec:\n  ingress:\n  - action: Allwo\n", /^<stdin>:6:13: spec\.ingress\[0\]\.action: expected one of "Allow", "Deny", "Log", "Pass"/m],
    ["numeric port without protocol", "spec:\n  ingress:\n  - action: Allow\n    destination:\n      ports: [80]\n", /^<stdin>:8:14: spec\.ingress\[0\]\.destination\.ports: rules that specify ports must set protocol/m],
    ["CIDRs mixing families", "spec:\n  egress:\n  - action: Allow\n    destination:\n      nets: [10.0.0.0/8, 'fd00::/8']\n", /^<stdin>:8:13: spec\.egress\[0\]\.destination\.nets: rule contains both IPv4 and IPv6 CIDRs/m],
  ];
  const head = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p1, namespace: x}\n";
  for (const [name, body, message] of cases) {
    test(name, async () => {
      for (const command of ["matrix", "render"]) {
        const r = await spawnCli(["policy", command, "-f", kubectl, "-f", "-", ...(command === "render" ? ["--node", "node-1"] : [])], { input: head + body });
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(r.stdout).toBe("");
      }
    });
  }
});

describe("birdcage policy render", () => {
  test("nft (default) prints the node's ruleset, the same as the library renders", async () => {
    const r = await runCli(["policy", "render", "-f", kubectl, "--node", "node-1"]);
    expect(r.code).toBe(0);
    const set = new PolicySet(policyInputFromResources(loadResources(readFileSync(kubectl, "utf8"), kubectl)));
    expect(r.stdout).toBe(renderNft(planNode(set, { node: "node-1" })));
    expect(r.stdout).toContain("table inet bc-filter {");
    expect(r.stdout.match(/^\tchain bc-tw-cali/gm)).toHaveLength(5);
  });

  test("iptables prints ipset and iptables-restore parts; json names interfaces; unknown node warns", async () => {
    const r = await runCli(["policy", "render", "-f", kubectl, "--node", "node-1", "--format", "iptables"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# --- ipset restore \(IPv4\) ---\ncreate bc4-s_/);
    expect(r.stdout).toContain("# --- iptables-restore --noflush (then once: iptables -I FORWARD 1 -j bc-FORWARD) ---\n*filter\n:bc-FORWARD - [0:0]\n");
    // An IPv4-only cluster: no IPv6 part.
    expect(r.stdout).not.toContain("ip6tables");
    const j = await runCli(["policy", "render", "-f", kubectl, "--node", "node-1", "-o", "json"]);
    const data = JSON.parse(j.stdout) as { interfaces: { endpoint: string; interface: string }[]; nft: string };
    expect(data.interfaces.map((i) => i.endpoint).sort()).toEqual(["x/a", "x/b", "y/a", "y/b", "z/c"]);
    const none = await runCli(["policy", "render", "-f", kubectl, "--node", "node-9"]);
    expect(none.code).toBe(0);
    expect(none.stderr).toBe("birdcage: warning: no workloads on node node-9 (nodes with workloads: node-1)\n");
    const bad = await runCli(["policy", "render", "-f", kubectl, "--node", "node-1", "--format", "pf"]);
    expect(bad.code).toBe(2);
    const prefix = await runCli(["policy", "render", "-f", kubectl, "--node", "node-1", "--iface-prefix", "toolong"]);
    expect(prefix.code).toBe(2);
    expect(prefix.stderr).toContain('--iface-prefix "toolong"');
    const bc = await runCli(["policy", "render", "-f", kubectl, "--node", "node-1", "--iface-prefix", "bcw"]);
    expect(bc.stdout).toContain('iifname "bcw*" jump bc-from-wl-dispatch');
  });

  test("iptables with IPv6 in the ruleset prints the ip6tables-restore file too, with host hooks; --family picks one", async () => {
    const dual = [
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: shop, labels: {app: db}}\nspec: {nodeName: node-1, containers: [{name: c, image: i}]}\nstatus: {podIP: 10.9.1.3, podIPs: [{ip: 10.9.1.3}, {ip: 'fd00:9::3'}]}",
      "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: node-1-eth1, labels: {role: node}}\nspec: {node: node-1, interfaceName: eth1, expectedIPs: [192.168.78.1]}",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress: [{from: [{ipBlock: {cidr: 'fd00:1::/64'}}, {ipBlock: {cidr: 'fd00:2::/64'}}]}]",
    ].join("\n---\n");
    const both = await spawnCli(["policy", "render", "-f", "-", "--node", "node-1", "--format", "iptables"], { input: dual });
    expect(both.stderr).toBe("");
    expect(both.code).toBe(0);
    const v6At = both.stdout.indexOf("# --- ipset restore (IPv6) ---\n");
    expect(v6At).toBeGreaterThan(0);
    const [v4, v6] = [both.stdout.slice(0, v6At), both.stdout.slice(v6At)];
    expect(v4).toContain("# --- iptables-restore --noflush (then once: iptables -I FORWARD 1 -j bc-FORWARD; iptables -I INPUT 1 -j bc-INPUT; iptables -I OUTPUT 1 -j bc-OUTPUT) ---\n*filter\n");
    expect(v6).toContain("# --- ip6tables-restore --noflush (then once: ip6tables -I FORWARD 1 -j bc-FORWARD; ip6tables -I INPUT 1 -j bc-INPUT; ip6tables -I OUTPUT 1 -j bc-OUTPUT) ---\n*filter\n");
    expect(v4).not.toContain("fd00:");
    expect(v6).toContain("-s fd00:1::/64");
    expect(v6).toContain("-A bc-fh-eth1 ");

    const only6 = await spawnCli(["policy", "render", "-f", "-", "--node", "node-1", "--format", "iptables", "--family", "6"], { input: dual });
    expect(only6.code).toBe(0);
    expect(only6.stdout).toBe(v6);
    const j = await spawnCli(["policy", "render", "-f", "-", "--node", "node-1", "--format", "iptables", "-o", "json"], { input: dual });
    const data = JSON.parse(j.stdout) as { iptables: string; families: { family: number; restore: string; iptables: string; hooks: string[] }[] };
    expect(data.families.map((f) => [f.family, f.restore])).toEqual([[4, "iptables-restore"], [6, "ip6tables-restore"]]);
    expect(data.iptables).toBe(data.families[0]!.iptables);
    expect(data.families[1]!.hooks).toContain("ip6tables -I INPUT 1 -j bc-INPUT");

    const badFamily = await spawnCli(["policy", "render", "-f", "-", "--node", "node-1", "--format", "iptables", "--family", "5"], { input: dual });
    expect(badFamily.code).toBe(2);
    expect(badFamily.stdout).toBe("");
    const nftFamily = await spawnCli(["policy", "render", "-f", "-", "--node", "node-1", "--family", "6"], { input: dual });
    expect(nftFamily.code).toBe(2);
    expect(nftFamily.stderr).toContain("--family goes with --format iptables");
  });
});
