import { describe, expect, test } from "@jest/globals";
import { policySetFor } from "../../../src/core/agent/index.ts";
import { loadResources } from "../../../src/core/model/load.ts";

const yaml = `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { team: a } }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: db-from-web, namespace: shop }
spec:
  podSelector: { matchLabels: { app: db } }
  policyTypes: [Ingress]
  ingress:
    - from: [{ podSelector: { matchLabels: { app: web } } }]
      ports: [{ protocol: TCP, port: 5432 }]
`;

describe("policySetFor", () => {
  test("loaded Kubernetes resources plus the agents' pods: the policy resolves pods on any node", () => {
    const res = loadResources(yaml, "p.yaml");
    const pods = [
      { name: "web", namespace: "shop", node: "node-1", labels: { app: "web" }, ips: ["10.1.0.1"] },
      { name: "db", namespace: "shop", node: "node-2", labels: { app: "db" }, ips: ["10.1.0.70"] },
      { name: "other", namespace: "default", node: "node-2", labels: { app: "web" }, ips: ["10.1.0.71"] },
    ];
    const set = policySetFor(res, pods);
    const allowed = (src: string, port: number) => set.evaluate({ src, dst: "10.1.0.70", protocol: "TCP", dstPort: port }).allowed;
    expect(allowed("10.1.0.1", 5432)).toBe(true);
    expect(allowed("10.1.0.1", 80)).toBe(false);
    // Same labels, other namespace: the K8s podSelector is namespace-scoped.
    expect(allowed("10.1.0.71", 5432)).toBe(false);
    // The declared namespace keeps its profile (labels); "default" gets a label-less one; no duplicates.
    const names = set.describeEndpoints().map((e) => `${e.endpoint.namespace}/${e.endpoint.name}`).sort();
    expect(names).toEqual(["default/other", "shop/db", "shop/web"]);
  });

  test("a pod already present as an endpoint is not added twice", () => {
    const pod = { name: "web", namespace: "shop", labels: { app: "web" }, ips: ["10.1.0.1"] };
    const set = policySetFor({ endpoints: [{ kind: "workload", name: "web", namespace: "shop", labels: { app: "web" }, ips: ["10.1.0.1"], profiles: [] }] }, [pod]);
    expect(set.describeEndpoints()).toHaveLength(1);
  });
});
