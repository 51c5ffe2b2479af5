// From YAML resources (loaded by src/core/model) to verdicts: the path scenarios take.
import { describe, expect, test } from "@jest/globals";
import { loadResources } from "../../../src/core/model/index.ts";
import { PolicySet } from "../../../src/core/policy/index.ts";
import { policyInputFromResources } from "../../../src/core/policy/from-resources.ts";

const yaml = `
apiVersion: v1
kind: Namespace
metadata: { name: prod, labels: { env: production } }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: prod, labels: { app: web } }
spec:
  serviceAccountName: frontend
  containers: [{ name: c, ports: [{ name: http, containerPort: 8080 }] }]
status: { podIP: 10.0.1.1 }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: other, labels: { app: client } }
spec: { containers: [{ name: c }] }
status: { podIP: 10.0.2.1 }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: web, namespace: prod }
spec:
  podSelector: { matchLabels: { app: web } }
  ingress:
    - from: [{ namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: other } } }]
      ports: [{ port: http }]
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: { name: security }
spec: { order: 100 }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: security.block-ext }
spec:
  tier: security
  selector: all()
  types: [Ingress]
  ingress:
    - action: Deny
      source: { selector: "role == 'blocked'" }
    - action: Pass
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: { name: blocked, labels: { role: blocked } }
spec: { nets: [198.51.100.0/24] }
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: node-1-eth0, labels: { role: node } }
spec: { node: node-1, interfaceName: eth0, expectedIPs: [192.168.0.1] }
`;

describe("policyInputFromResources", () => {
  const input = policyInputFromResources(loadResources(yaml, "world.yaml"));
  const set = new PolicySet(input);

  test("builds profiles for declared and used namespaces and for service accounts", () => {
    expect(input.profiles?.map((p) => p.name).sort()).toEqual(["kns.other", "kns.prod", "ksa.prod.frontend"]);
    expect(input.endpoints?.map((e) => e.name)).toEqual(["web", "client", "node-1-eth0"]);
    expect(input.policies?.map((p) => `${p.kind}/${p.name}`)).toEqual(["GlobalNetworkPolicy/security.block-ext", "KubernetesNetworkPolicy/knp.default.web"]);
  });

  test("verdicts across tiers, K8s policy with a named port, namespace metadata label", () => {
    const ok = set.evaluate({ src: "10.0.2.1", dst: "10.0.1.1", protocol: "TCP", dstPort: 8080 });
    expect(ok.allowed).toBe(true);
    expect(ok.ingress.decision).toEqual({ kind: "rule", tier: "default", policy: "prod/knp.default.web", ruleIndex: 0, action: "Allow" });
    expect(ok.ingress.trace[0]).toEqual({ kind: "tier", tier: "security", policies: ["security.block-ext"] });

    expect(set.evaluate({ src: "10.0.2.1", dst: "10.0.1.1", protocol: "TCP", dstPort: 80 }).allowed).toBe(false);
    const blocked = set.evaluate({ src: "198.51.100.9", dst: "10.0.1.1", protocol: "TCP", dstPort: 8080 });
    expect(blocked.ingress.decision).toEqual({ kind: "rule", tier: "security", policy: "security.block-ext", ruleIndex: 0, action: "Deny" });
  });

  test("the host endpoint is in the security tier's selection and passes to profiles (none: deny)", () => {
    const r = set.evaluate({ src: "10.0.2.1", dst: "192.168.0.1", protocol: "TCP", dstPort: 10250 });
    expect(r.ingress.decision).toEqual({ kind: "no-profile-match", profiles: [] });
  });
});

describe("converting the same loaded resources again", () => {
  test("gives the same Policy objects (an agent keeps unchanged entries), so diffPolicies sees no change without JSON", async () => {
    const { LoadedResources } = await import("../../../src/core/model/index.ts");
    const { diffPolicies } = await import("../../../src/core/policy/render/plan.ts");
    const loaded = loadResources(yaml, "cluster.yaml");
    const a = policyInputFromResources(loaded);
    const b = policyInputFromResources(new LoadedResources([...loaded.entries]));
    expect(a.policies!.length).toBeGreaterThan(0);
    a.policies!.forEach((p, i) => expect(b.policies![i]).toBe(p));
    expect(diffPolicies(a.policies!, b.policies!)).toEqual({ upsert: [], remove: [] });
    // Loaded again from text: new objects of the same content, still no change.
    const c = policyInputFromResources(loadResources(yaml, "cluster.yaml"));
    expect(c.policies![0]).not.toBe(a.policies![0]);
    expect(diffPolicies(a.policies!, c.policies!)).toEqual({ upsert: [], remove: [] });
  });
});
