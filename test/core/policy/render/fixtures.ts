// Policy worlds for renderer tests: small, and one using every rule feature the renderers print.
import type { PolicySetInput } from "../../../../src/core/policy/index.ts";
import { namespaceToProfile, podToEndpoint } from "../../../../src/core/policy/index.ts";

export const pod = (namespace: string, name: string, ip: string, labels: Record<string, string>, node = "node-1", ports?: { name: string; protocol: string; port: number }[]) =>
  podToEndpoint({ name, namespace, ips: [ip], labels, node, ...(ports ? { ports } : {}) });

/** Two namespaces, three pods on node-1 and one on node-2, a tier with Pass default, K8s-like policies. */
export function small(): PolicySetInput {
  return {
    tiers: [{ name: "security", order: 100, defaultAction: "Pass" }],
    profiles: [namespaceToProfile({ name: "shop", labels: { team: "web" } }), namespaceToProfile({ name: "ops" })],
    endpoints: [
      pod("shop", "web", "10.0.0.1", { app: "web" }, "node-1", [{ name: "http", protocol: "TCP", port: 8080 }]),
      pod("shop", "db", "10.0.0.2", { app: "db" }),
      pod("ops", "mon", "10.0.0.3", { app: "mon" }),
      pod("shop", "web-2", "10.0.1.1", { app: "web" }, "node-2", [{ name: "http", protocol: "TCP", port: 8081 }]),
    ],
    policies: [
      {
        kind: "GlobalNetworkPolicy",
        name: "security.block",
        spec: { tier: "security", order: 1, selector: "all()", ingress: [{ action: "Deny", source: { nets: ["192.0.2.0/24"] } }, { action: "Pass", protocol: "TCP" }] },
      },
      {
        kind: "NetworkPolicy",
        name: "db-from-web",
        namespace: "shop",
        spec: { order: 10, selector: "app == 'db'", types: ["Ingress"], ingress: [{ action: "Allow", protocol: "TCP", source: { selector: "app == 'web'" }, destination: { ports: [5432] } }] },
      },
      {
        kind: "NetworkPolicy",
        name: "web-http",
        namespace: "shop",
        spec: { order: 20, selector: "app == 'web'", types: ["Ingress"], ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: ["http", 9000] } }] },
      },
    ],
  };
}

/** Every rule feature: ICMP and notICMP with code, notProtocol, Log, notNets, named notPorts, source ports, IPv6. */
export function kitchenSink(): PolicySetInput {
  const base = small();
  return {
    ...base,
    endpoints: [...(base.endpoints ?? []), podToEndpoint({ name: "v6", namespace: "ops", ips: ["fd00::5"], labels: { app: "v6" }, node: "node-1" })],
    networkSets: [{ name: "partners", labels: { partner: "yes" }, nets: ["198.51.100.0/24", "198.51.100.7/32", "2001:db8::/32"] }],
    policies: [
      ...(base.policies ?? []),
      {
        kind: "GlobalNetworkPolicy",
        name: "everything",
        spec: {
          order: 5,
          selector: "has(app)",
          types: ["Ingress", "Egress"],
          ingress: [
            { action: "Log", protocol: "ICMP", icmp: { type: 8, code: 0 } },
            { action: "Allow", protocol: "ICMP", notICMP: { type: 3, code: 4 } },
            { action: "Deny", notProtocol: "TCP", source: { notNets: ["10.0.0.0/8", "172.16.0.0/12"] } },
            { action: "Allow", protocol: "UDP", source: { selector: "partner == 'yes'", ports: ["1000:1010"] }, destination: { notPorts: ["http", 53] } },
            { action: "Allow", ipVersion: 6, protocol: "ICMPv6", icmp: { type: 128 } },
            { action: "Allow", source: { nets: ["2001:db8::/32"] } },
            { action: "Deny", source: { notSelector: "app == 'mon'" }, destination: { ports: Array.from({ length: 20 }, (_, i) => 2000 + 2 * i) }, protocol: "TCP" },
          ],
          egress: [{ action: "Pass", destination: { selector: "app == 'db'", namespaceSelector: "all()" } }, { action: "Allow" }],
        },
      },
    ],
  };
}

/** small() plus a host endpoint on node-1's eth0 and a policy selecting it. */
export function withHostEndpoint(): PolicySetInput {
  const base = small();
  return {
    ...base,
    endpoints: [...(base.endpoints ?? []), { kind: "host", name: "node-1-eth0", node: "node-1", interfaceName: "eth0", ips: ["192.168.0.1"], labels: { role: "node" } }],
    policies: [
      ...(base.policies ?? []),
      { kind: "GlobalNetworkPolicy", name: "node-web", spec: { selector: "role == 'node'", types: ["Ingress", "Egress"], ingress: [{ action: "Allow", protocol: "TCP", destination: { ports: [8080] } }], egress: [{ action: "Allow", protocol: "UDP", destination: { ports: [123] } }] } },
    ],
  };
}
