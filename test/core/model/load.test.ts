// Loading files: multi-document YAML, Lists, JSON, unknown kinds, positions, all problems at once,
// rules across resources and files, and robustness against arbitrary bad values.
import { describe, expect, test } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, visit, type Document } from "yaml";
import {
  InputError,
  formatProblems,
  loadResourceFiles,
  loadResources,
  parseResourceFiles,
  parseResources,
  validateResourceSet,
  type IPPool,
} from "../../../src/core/model/index.ts";
import { repoRoot } from "../../helpers/paths.ts";
import { problems } from "./helpers.ts";

const example = (name: string) => readFileSync(join(repoRoot, "examples/resources", name), "utf8");

describe("documents and lists", () => {
  test("multi-document YAML keeps each resource's position", () => {
    const r = loadResources(example("calico-cluster.yaml"), "c.yaml");
    expect(r.size).toBe(12);
    expect(r.ofKind("IPPool").map((e) => [e.resource.metadata.name, e.source.line, e.source.column])).toEqual([
      ["default-ipv4-ippool", 2, 1],
      ["default-ipv6-ippool", 11, 1],
      ["rack-b-pool", 20, 1],
    ]);
    expect(r.ipamConfig?.spec.maxBlocksPerHost).toBe(4);
    expect(r.bgpConfig?.spec.nodeToNodeMeshEnabled).toBe(false);
    expect(r.get("BGPPeer", "tor-rack-b")?.spec.asNumber).toBe(65001 * 65536 + 2);
    expect(r.ofKind("IPPool")[2]!.at(["spec", "blockSize"])).toEqual({ file: "c.yaml", line: 26, column: 14 });
  });

  test("a kubectl List with managedFields, ownerReferences and status is read", () => {
    const r = loadResources(example("kubectl-list.yaml"), "k.yaml");
    expect(r.entries.map((e) => e.key)).toEqual(["Namespace", "Pod", "Pod", "KubernetesNetworkPolicy", "KubernetesNetworkPolicy"]);
    expect(r.pods.map((p) => [p.metadata.name, p.spec.nodeName])).toEqual([
      ["web-6d4cf56db6-x7k2p", "node-3"],
      ["db-0", "node-7"],
    ]);
    expect(r.ofKind("Pod")[1]!.source).toEqual({ file: "k.yaml", line: 109, column: 3 });
    expect(r.get("KubernetesNetworkPolicy", "web-egress", "shop")?.spec.policyTypes).toEqual(["Ingress", "Egress"]);
  });

  test("a calicoctl <Kind>List is read, items may omit apiVersion and kind", () => {
    const text = "apiVersion: projectcalico.org/v3\nkind: IPPoolList\nmetadata:\n  resourceVersion: '99'\nitems:\n- metadata: {name: a}\n  spec: {cidr: 10.1.0.0/16}\n- apiVersion: projectcalico.org/v3\n  kind: IPPool\n  metadata: {name: b}\n  spec: {cidr: 10.2.0.0/16, blockSize: 40}\n";
    expect(problems(text)).toEqual(["t.yaml:11:40: spec.blockSize: blockSize 40 is out of range for an IPv4 pool (expected 20-32)"]);
    const ok = loadResources(text.replace("blockSize: 40", "blockSize: 24"), "t.yaml");
    expect(ok.ipPools.map((p) => p.spec.blockSize)).toEqual([26, 24]);
  });

  test("JSON input works", () => {
    const json = JSON.stringify({ apiVersion: "projectcalico.org/v3", kind: "IPPool", metadata: { name: "j" }, spec: { cidr: "10.9.0.0/16", blockSize: 99 } }, null, 2);
    expect(problems(json)).toEqual(["t.yaml:9:18: spec.blockSize: blockSize 99 is out of range for an IPv4 pool (expected 20-32)"]);
  });

  test("empty documents are skipped", () => {
    expect(loadResources("---\n# nothing\n---\n", "t.yaml").size).toBe(0);
  });
});

describe("problems", () => {
  test("malformed YAML is reported at the YAML position", () => {
    const ps = problems("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n");
    expect(ps.length).toBeGreaterThan(0);
    expect(ps[0]).toMatch(/^t\.yaml:\d+:\d+: invalid YAML: /);
  });

  test("an alias bomb is a problem, not a crash", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) levels.push(`${"abcdefghi"[i]}: &${"abcdefghi"[i]} [${Array(9).fill(`*${"abcdefghi"[i - 1]}`).join(", ")}]`);
    const ps = problems(levels.join("\n") + "\n");
    expect(ps).toHaveLength(1);
    expect(ps[0]).toMatch(/^t\.yaml:1:1: invalid YAML: Excessive alias count/);
  });

  test("duplicate keys are YAML errors", () => {
    expect(problems("apiVersion: v1\nkind: Namespace\nkind: Namespace\nmetadata: {name: a}\n")[0]).toMatch(/^t\.yaml:3:1: invalid YAML: Map keys must be unique/);
  });

  test("an unknown kind is reported at the kind", () => {
    const [p] = problems("apiVersion: projectcalico.org/v3\nkind: FelixConfig\nmetadata: {name: default}\n");
    expect(p).toMatch(/^t\.yaml:2:7: unknown kind FelixConfig \(apiVersion projectcalico\.org\/v3\); expected one of IPPool, IPAMConfiguration/);
    expect(p).toContain("NetworkPolicy (networking.k8s.io/v1)");
  });

  test("a known kind with the wrong apiVersion is reported at the apiVersion", () => {
    expect(problems("apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: a}\nspec: {cidr: 10.0.0.0/16}\n")).toEqual([
      't.yaml:1:13: apiVersion: kind IPPool needs apiVersion "projectcalico.org/v3", got string "crd.projectcalico.org/v1"',
    ]);
  });

  test("a missing kind and a non-mapping document are reported", () => {
    expect(problems("apiVersion: v1\nmetadata: {name: a}\n")[0]).toMatch(/^t\.yaml:1:1: missing kind; expected one of/);
    expect(problems("- a\n- b\n")).toEqual(["t.yaml:1:1: expected a resource (a mapping with apiVersion and kind), got a list"]);
  });

  test("every problem in every document is reported, in file order", () => {
    const text = [
      "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: a}\nspec:\n  cidr: 10.0.0.1/8\n  natOutgoing: yes please",
      "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: default}\nspec: {order: 1}",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: 0}]}]}",
    ].join("\n---\n");
    expect(problems(text)).toEqual([
      "t.yaml:5:9: spec.cidr: IP pool CIDR is not strictly masked; did you mean 10.0.0.0/8?",
      't.yaml:6:16: spec.natOutgoing: expected true or false, got string "yes please"',
      "t.yaml:11:15: spec.order: default tier order must be 1000000",
      "t.yaml:16:55: spec.containers[0].ports[0].containerPort: must be 1-65535",
    ]);
  });

  test("loadResources throws an InputError carrying every problem, formatted one per line", () => {
    let err: unknown;
    try {
      loadResources("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: a}\nspec: {cidr: 10.0.0.0/8, blockSize: 8, ipipMode: Maybe}\n", "f.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const e = err as InputError;
    expect(e.exitCode).toBe(2);
    expect(e.problems).toHaveLength(2);
    expect(formatProblems(e.problems)).toBe(
      "f.yaml:4:37: spec.blockSize: blockSize 8 is out of range for an IPv4 pool (expected 20-32)\n" +
        'f.yaml:4:50: spec.ipipMode: expected one of "Always", "CrossSubnet", "Never", got string "Maybe"\n',
    );
  });
});

describe("rules across resources", () => {
  const pool = (name: string, cidr: string) => `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n`;

  test("overlapping pools are reported at the later pool's cidr", () => {
    expect(problems(`${pool("a", "10.1.0.0/16")}---\n${pool("b", "10.2.0.0/16")}---\n${pool("c", "10.1.128.0/18")}`)).toEqual([
      "t.yaml:20:9: spec.cidr: IP pool 10.1.128.0/18 overlaps IPPool a (10.1.0.0/16) defined at t.yaml:1:1",
    ]);
  });

  test("pools of different families never overlap", () => {
    expect(problems(`${pool("a", "10.1.0.0/16")}---\n${pool("b", "fd00::/48")}`)).toEqual([]);
  });

  test("overlaps across files are found by validateResourceSet", () => {
    const a = parseResources(pool("a", "10.1.0.0/16"), "a.yaml");
    const b = parseResources(pool("b", "10.0.0.0/8"), "b.yaml");
    expect(a.problems).toEqual([]);
    expect(b.problems).toEqual([]);
    expect(formatProblems(validateResourceSet([a.resources, b.resources]))).toBe(
      "b.yaml:6:9: spec.cidr: IP pool 10.0.0.0/8 overlaps IPPool a (10.1.0.0/16) defined at a.yaml:1:1\n",
    );
  });

  test("loadResourceFiles loads many files as one set and reports each problem once", () => {
    const r = loadResourceFiles([
      { text: pool("a", "10.1.0.0/16"), file: "a.yaml" },
      { text: pool("b", "10.2.0.0/16"), file: "b.yaml" },
    ]);
    expect(r.ipPools.map((p) => p.metadata.name)).toEqual(["a", "b"]);
    const bad = parseResourceFiles([
      { text: `${pool("a", "10.1.0.0/16")}---\n${pool("a", "10.3.0.0/16")}`, file: "a.yaml" },
      { text: pool("b", "10.1.0.0/24"), file: "b.yaml" },
    ]);
    expect(formatProblems(bad.problems)).toBe(
      "a.yaml:11:9: metadata.name: duplicate IPPool a (first defined at a.yaml:1:1)\n" +
        "b.yaml:6:9: spec.cidr: IP pool 10.1.0.0/24 overlaps IPPool a (10.1.0.0/16) defined at a.yaml:1:1\n",
    );
    expect(() => loadResourceFiles([{ text: pool("x", "10.0.0.0/33"), file: "x.yaml" }])).toThrow(InputError);
  });

  test("duplicate names of one kind are reported; same names of different kinds are not", () => {
    expect(problems(`${pool("a", "10.1.0.0/16")}---\n${pool("a", "10.2.0.0/16")}`)).toEqual([
      "t.yaml:11:9: metadata.name: duplicate IPPool a (first defined at t.yaml:1:1)",
    ]);
    expect(problems(`${pool("a", "10.1.0.0/16")}---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: a}\n`)).toEqual([]);
  });

  test("two pods with one IP, and two Calico nodes with one address, are reported", () => {
    const podText = (name: string, ip: string, host = false) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec: {hostNetwork: ${host}, containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;
    expect(problems(`${podText("a", "10.1.0.1")}---\n${podText("b", "10.1.0.1")}`)[0]).toContain("pod IP 10.1.0.1 is also used by pod default/a");
    expect(problems(`${podText("a", "192.168.0.1", true)}---\n${podText("b", "192.168.0.1", true)}`)).toEqual([]);
    const node = (name: string, addr: string) => `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: ${name}}\nspec: {bgp: {ipv4Address: ${addr}}}\n`;
    expect(problems(`${node("n1", "10.0.0.1/24")}---\n${node("n2", "10.0.0.1/16")}`)[0]).toContain('Calico node "n1"');
  });
});

describe("robustness", () => {
  // Replace each scalar of the example files, one at a time, by values of the wrong shape: the
  // loader must report problems (or accept), never throw, and never hit an internal error.
  const replacements = [null, -1, 0, 99999999999, 1.5, "", "x:y", "10.0.0.0/99", "global()", true, [], {}, ["a"], { a: 1 }];

  test.each(["calico-cluster.yaml", "kubectl-list.yaml"])("%s with every scalar mutated", (name) => {
    const text = example(name);
    const countScalars = (): number => {
      let n = 0;
      for (const d of parseAllDocuments(text) as Document[]) visit(d, { Scalar: () => void n++ });
      return n;
    };
    const total = countScalars();
    let checked = 0;
    for (let target = 0; target < total; target += 2) {
      for (const repl of replacements) {
        let index = 0;
        const docs = parseAllDocuments(text) as Document[];
        for (const d of docs) {
          visit(d, {
            Scalar(key, node) {
              if (index++ !== target || key === "key") return undefined;
              return d.createNode(repl);
            },
          });
        }
        const mutated = docs.map((d) => d.toString()).join("---\n");
        const result = parseResources(mutated, "m.yaml");
        expect(result.problems.filter((p) => p.message.includes("internal error"))).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });
});

test("resource types are usable as data", () => {
  const pools: IPPool[] = loadResources(example("calico-cluster.yaml"), "c.yaml").ipPools;
  expect(pools.map((p) => `${p.spec.cidr}/${p.spec.blockSize}/${p.spec.ipipMode}/${p.spec.vxlanMode}`)).toEqual([
    "10.1.0.0/16/26/CrossSubnet/Never",
    "fd00:10:1::/48/122/Never/CrossSubnet",
    "10.2.0.0/20/28/Always/Never",
  ]);
});
