// A synthetic cluster for policy benchmarks: pods spread over namespaces with app/role labels, and
// Kubernetes NetworkPolicies (converted as Calico does) with pod/namespace selectors and ports.
// Deterministic (fixed-seed LCG).
import { k8sNetworkPolicyToCalico, namespaceToProfile, podToEndpoint, type PolicySetInput, type Policy } from "../src/core/policy/index.ts";

export function world(pods: number, policies: number, options: { namespaces?: number; nodes?: number; rulesPerPolicy?: number } = {}): PolicySetInput {
  let seed = 42;
  const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const nsCount = options.namespaces ?? 10;
  const nodes = options.nodes ?? 10;
  const rules = options.rulesPerPolicy ?? 2;
  const ns = (i: number): string => `ns-${i}`;
  const endpoints = Array.from({ length: pods }, (_, i) =>
    podToEndpoint({
      name: `pod-${i}`,
      namespace: ns(i % nsCount),
      ips: [`10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`],
      labels: { app: `app-${rand(20)}`, role: `role-${rand(5)}` },
      node: `node-${i % nodes}`,
      ports: [{ name: "http", protocol: "TCP", port: 8000 + rand(3) }],
    }),
  );
  const out: Policy[] = [];
  for (let p = 0; p < policies; p++) {
    const ingress = Array.from({ length: rules }, (_, r) => {
      const kind = (p + r) % 4;
      const from =
        kind === 0 ? [{ podSelector: { matchLabels: { app: `app-${rand(20)}` } } }]
        : kind === 1 ? [{ namespaceSelector: { matchLabels: { team: `t-${rand(3)}` } }, podSelector: { matchLabels: { role: `role-${rand(5)}` } } }]
        : kind === 2 ? [{ ipBlock: { cidr: "10.64.0.0/16", except: [`10.64.${rand(4)}.0/24`] } }]
        : [{ namespaceSelector: {} }];
      const ports = kind === 3 ? [{ protocol: "TCP", port: "http" }] : [{ protocol: "TCP", port: 80 + rand(3), ...(kind === 2 ? { endPort: 90 } : {}) }];
      return { from, ports };
    });
    out.push(
      k8sNetworkPolicyToCalico({
        metadata: { name: `np-${p}`, namespace: ns(p % nsCount) },
        spec: { podSelector: { matchLabels: { app: `app-${rand(20)}` } }, policyTypes: ["Ingress"], ingress } as never,
      }),
    );
  }
  return {
    policies: out,
    profiles: Array.from({ length: nsCount }, (_, i) => namespaceToProfile({ name: ns(i), labels: { team: `t-${i % 3}` } })),
    endpoints,
  };
}
