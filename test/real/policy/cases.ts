// The cluster and policy cases of the real network-policy check: five pods on one node in three
// Kubernetes namespaces, and one set of policies per case. Pure data (YAML text), also usable
// without root.
import { stringify } from "yaml";

export interface PodSpec {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly labels: Record<string, string>;
  readonly ports?: readonly { name: string; containerPort: number; protocol?: string }[];
}

export const NODE = "node-1";
/** Every pod serves these (TCP and UDP echo); probes use a subset. */
export const SERVED = { tcp: [80, 81, 82], udp: [80, 81] } as const;

export const PODS: readonly PodSpec[] = [
  { namespace: "x", name: "a", ip: "10.250.0.1", labels: { app: "a" }, ports: [{ name: "web", containerPort: 80 }] },
  { namespace: "x", name: "b", ip: "10.250.0.2", labels: { app: "b" } },
  { namespace: "y", name: "a", ip: "10.250.0.3", labels: { app: "a" }, ports: [{ name: "web", containerPort: 81 }] },
  { namespace: "y", name: "b", ip: "10.250.0.4", labels: { app: "b" } },
  { namespace: "z", name: "c", ip: "10.250.0.5", labels: { app: "c" } },
];

/** Namespaces and pods as `kubectl get ns,pods -A -o yaml` would print them (with server fields). */
export function clusterYaml(): string {
  const namespaces = ["x", "y", "z"].map((ns) => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: ns,
      labels: { ns, "kubernetes.io/metadata.name": ns },
      uid: `00000000-0000-0000-0000-00000000000${ns.charCodeAt(0) % 10}`,
      resourceVersion: "100",
      creationTimestamp: "2026-11-25T20:00:00Z",
      managedFields: [{ manager: "kubectl-create", operation: "Update", apiVersion: "v1", time: "2026-11-25T20:00:00Z", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": {} } }],
    },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  }));
  const pods = PODS.map((p) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: p.name,
      namespace: p.namespace,
      labels: p.labels,
      uid: `11111111-0000-0000-0000-${p.ip.split(".").join("").padStart(12, "0").slice(-12)}`,
      resourceVersion: "200",
      managedFields: [{ manager: "kubelet", operation: "Update", apiVersion: "v1", subresource: "status", fieldsType: "FieldsV1", fieldsV1: { "f:status": {} } }],
    },
    spec: {
      nodeName: NODE,
      containers: [{ name: "srv", image: "registry.k8s.io/e2e-test-images/agnhost:2.47", ports: (p.ports ?? []).map((q) => ({ protocol: "TCP", ...q })) }],
    },
    status: { phase: "Running", podIP: p.ip, podIPs: [{ ip: p.ip }], hostIP: "192.0.2.1" },
  }));
  return stringify({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "" }, items: [...namespaces, ...pods] });
}

const np = (namespace: string, name: string, spec: object): object => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name, namespace },
  spec,
});
const docs = (...objects: object[]): string => objects.map((o) => stringify(o)).join("---\n");

export interface PolicyCase {
  readonly name: string;
  readonly probes: string;
  readonly policies: string;
}

export const CASES: readonly PolicyCase[] = [
  {
    name: "default deny ingress",
    probes: "80/TCP,81/UDP",
    policies: docs(np("x", "deny-ingress", { podSelector: {}, policyTypes: ["Ingress"] })),
  },
  {
    name: "default deny egress",
    probes: "80/TCP,81/UDP",
    policies: docs(np("y", "deny-egress", { podSelector: {}, policyTypes: ["Egress"] })),
  },
  {
    name: "pod and namespace selectors",
    probes: "80/TCP",
    policies: docs(
      np("x", "a-from-b-or-y", {
        podSelector: { matchLabels: { app: "a" } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: "b" } } }, { namespaceSelector: { matchLabels: { ns: "y" } } }] }],
      }),
    ),
  },
  {
    name: "AND versus OR of selectors",
    probes: "80/TCP",
    policies: docs(
      // One peer with both selectors: b pods in namespace y only.
      np("x", "a-and", {
        podSelector: { matchLabels: { app: "a" } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } }, podSelector: { matchLabels: { app: "b" } } }] }],
      }),
      // Two peers: anything in namespace y, or a pods in x.
      np("x", "b-or", {
        podSelector: { matchLabels: { app: "b" } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }, { podSelector: { matchLabels: { app: "a" } } }] }],
      }),
    ),
  },
  {
    name: "named ports",
    probes: "80/TCP,81/TCP",
    policies: docs(
      np("x", "web-only", { podSelector: {}, ingress: [{ ports: [{ port: "web" }] }] }),
      np("y", "web-only", { podSelector: {}, ingress: [{ ports: [{ port: "web" }] }] }),
    ),
  },
  {
    name: "port ranges",
    probes: "80/TCP,81/TCP,82/TCP,80/UDP",
    policies: docs(np("y", "range", { podSelector: {}, ingress: [{ ports: [{ protocol: "TCP", port: 80, endPort: 81 }] }] })),
  },
  {
    name: "ipBlock with except",
    probes: "80/TCP",
    policies: docs(
      np("x", "ipblock", {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: "10.250.0.0/29", except: ["10.250.0.4/32"] } }] }],
      }),
    ),
  },
  {
    name: "egress rules",
    probes: "80/TCP,81/UDP",
    policies: docs(
      np("x", "a-egress", {
        podSelector: { matchLabels: { app: "a" } },
        policyTypes: ["Egress"],
        egress: [
          { to: [{ podSelector: { matchLabels: { app: "b" } } }], ports: [{ protocol: "TCP", port: 80 }] },
          { to: [{ namespaceSelector: { matchLabels: { ns: "z" } } }], ports: [{ protocol: "UDP", port: 81 }] },
        ],
      }),
    ),
  },
  {
    name: "tiers with Pass and Deny",
    probes: "80/TCP,81/UDP",
    policies: docs(
      { apiVersion: "projectcalico.org/v3", kind: "Tier", metadata: { name: "security" }, spec: { order: 100 } },
      { apiVersion: "projectcalico.org/v3", kind: "Tier", metadata: { name: "audit" }, spec: { order: 200, defaultAction: "Pass" } },
      {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: "security.quarantine-z" },
        spec: {
          tier: "security",
          order: 10,
          selector: "all()",
          types: ["Ingress"],
          ingress: [
            { action: "Deny", source: { namespaceSelector: "ns == 'z'" } },
            { action: "Pass", source: { selector: "app in {'a', 'b'}", namespaceSelector: "all()" } },
          ],
        },
      },
      // Same selector as the one above: rendered as one policy group. A Pass above must skip it.
      {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: "security.x-udp" },
        spec: { tier: "security", order: 20, selector: "all()", types: ["Ingress"], ingress: [{ action: "Allow", protocol: "UDP", source: { namespaceSelector: "ns == 'x'" } }] },
      },
      {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: "audit.no-udp-to-b" },
        spec: { tier: "audit", selector: "app == 'b'", types: ["Ingress"], ingress: [{ action: "Deny", protocol: "UDP" }] },
      },
      np("y", "from-a", { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: "a" } } }] }] }),
    ),
  },
];
