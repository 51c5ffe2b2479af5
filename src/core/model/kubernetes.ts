// Kubernetes objects the testbed reads: v1 Namespace and Pod (as `kubectl get -o yaml` prints them,
// so unknown fields are kept, not rejected) and networking.k8s.io/v1 NetworkPolicy (whose spec is
// checked strictly, as the API server validates it).
import * as z from "zod";
import { prefixContains } from "../net/ip.ts";
import { dnsSubdomain, ipAddress, kubeMetadata, looseCidr, looseObject, metadata, portNameProblem, strictObject, tryPrefix } from "./fields.ts";

const k8sProtocol = z.enum(["TCP", "UDP", "SCTP"]);

// ---------------------------------------------------------------- Namespace

export const namespaceSchema = looseObject({
  apiVersion: z.literal("v1"),
  kind: z.literal("Namespace"),
  metadata: kubeMetadata(false),
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
}).superRefine((ns, ctx) => {
  // A namespace name is a DNS-1123 label (it becomes part of other names).
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns.metadata.name) || ns.metadata.name.length > 63) {
    ctx.addIssue({ code: "custom", path: ["metadata", "name"], message: "a namespace name must be a DNS-1123 label (lower case alphanumeric characters or '-', at most 63)" });
  }
});

// ---------------------------------------------------------------- Pod

const containerPort = looseObject({
  name: z.string().optional(),
  containerPort: z.number().int().min(1, "must be 1-65535").max(65535, "must be 1-65535"),
  protocol: k8sProtocol.optional(),
  hostPort: z.number().int().optional(),
  hostIP: z.string().optional(),
}).superRefine((p, ctx) => {
  if (p.name !== undefined) {
    const problem = portNameProblem(p.name);
    if (problem) ctx.addIssue({ code: "custom", path: ["name"], message: problem });
  }
});

const container = looseObject({
  name: z.string(),
  ports: z.array(containerPort).optional(),
});

export const podSchema = looseObject({
  apiVersion: z.literal("v1"),
  kind: z.literal("Pod"),
  metadata: kubeMetadata(true),
  spec: looseObject({
    nodeName: z.string().optional(),
    hostNetwork: z.boolean().optional(),
    serviceAccountName: z.string().optional(),
    containers: z.array(container).min(1, "a pod needs at least one container"),
  }),
  status: looseObject({
    podIP: ipAddress.optional(),
    podIPs: z.array(looseObject({ ip: ipAddress })).optional(),
    hostIP: ipAddress.optional(),
    phase: z.string().optional(),
  }).optional(),
})
  .superRefine((pod, ctx) => {
    const seen = new Map<string, string>();
    pod.spec.containers.forEach((c, ci) =>
      (c.ports ?? []).forEach((p, pi) => {
        if (p.name === undefined) return;
        const where = `${c.name}`;
        if (seen.has(p.name)) {
          ctx.addIssue({ code: "custom", path: ["spec", "containers", ci, "ports", pi, "name"], message: `port name "${p.name}" is used twice in this pod (also in container ${seen.get(p.name)})` });
        }
        seen.set(p.name, where);
      }),
    );
  })
  .transform((pod) => ({
    ...pod,
    metadata: { ...pod.metadata, namespace: pod.metadata.namespace ?? "default" },
    spec: {
      ...pod.spec,
      containers: pod.spec.containers.map((c) => ({
        ...c,
        ports: (c.ports ?? []).map((p) => ({ ...p, protocol: p.protocol ?? "TCP" })),
      })),
    },
  }));

// ---------------------------------------------------------------- NetworkPolicy

const labelSelector = strictObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      strictObject({
        key: z.string(),
        operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
        values: z.array(z.string()).optional(),
      }).superRefine((e, ctx) => {
        const n = e.values?.length ?? 0;
        if ((e.operator === "In" || e.operator === "NotIn") && n === 0) {
          ctx.addIssue({ code: "custom", path: ["values"], message: `values must be non-empty with operator ${e.operator}` });
        }
        if ((e.operator === "Exists" || e.operator === "DoesNotExist") && n > 0) {
          ctx.addIssue({ code: "custom", path: ["values"], message: `values must be empty with operator ${e.operator}` });
        }
      }),
    )
    .optional(),
});

const ipBlock = strictObject({
  cidr: looseCidr,
  except: z.array(looseCidr).optional(),
}).superRefine((b, ctx) => {
  const outer = tryPrefix(b.cidr);
  if (!outer) return;
  (b.except ?? []).forEach((e, i) => {
    const inner = tryPrefix(e);
    if (inner && (!prefixContains(outer, inner) || inner.len === outer.len)) {
      ctx.addIssue({ code: "custom", path: ["except", i], message: `except ${e} must be a strict subset of cidr ${b.cidr}` });
    }
  });
});

const peer = strictObject({
  podSelector: labelSelector.optional(),
  namespaceSelector: labelSelector.optional(),
  ipBlock: ipBlock.optional(),
}).superRefine((p, ctx) => {
  if (p.ipBlock && (p.podSelector || p.namespaceSelector)) {
    ctx.addIssue({ code: "custom", path: ["ipBlock"], message: "may not specify both ipBlock and another peer" });
  }
  if (!p.ipBlock && !p.podSelector && !p.namespaceSelector) {
    ctx.addIssue({ code: "custom", path: [], message: "must specify a peer (podSelector, namespaceSelector or ipBlock)" });
  }
});

const npPort = strictObject({
  protocol: k8sProtocol.optional(),
  port: z.union([z.number(), z.string()], { error: "expected a port number or a port name" }).optional(),
  endPort: z.number().int().optional(),
}).superRefine((p, ctx) => {
  const issue = (path: string[], message: string) => ctx.addIssue({ code: "custom", path, message });
  if (typeof p.port === "number" && (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)) issue(["port"], `port ${p.port} is out of range (expected 1-65535)`);
  if (typeof p.port === "string") {
    const np = portNameProblem(p.port);
    if (np) issue(["port"], np);
  }
  if (p.endPort !== undefined) {
    if (typeof p.port !== "number") issue(["endPort"], "endPort may only be set with a numeric port");
    else if (p.endPort < p.port) issue(["endPort"], `endPort ${p.endPort} must be greater than or equal to port ${p.port}`);
    else if (p.endPort > 65535) issue(["endPort"], `endPort ${p.endPort} is out of range (expected 1-65535)`);
  }
});

const npRule = (peers: "from" | "to") =>
  strictObject({
    ports: z.array(npPort).optional(),
    [peers]: z.array(peer).optional(),
  } as { ports: z.ZodOptional<z.ZodArray<typeof npPort>> } & Record<typeof peers, z.ZodOptional<z.ZodArray<typeof peer>>>);

const tcpDefault = <P extends { protocol?: "TCP" | "UDP" | "SCTP" | undefined }>(p: P) => ({ ...p, protocol: p.protocol ?? "TCP" });

export const kubeNetworkPolicySchema = strictObject({
  apiVersion: z.literal("networking.k8s.io/v1"),
  kind: z.literal("NetworkPolicy"),
  metadata: metadata(dnsSubdomain, true),
  spec: strictObject({
    podSelector: labelSelector,
    policyTypes: z.array(z.enum(["Ingress", "Egress"])).optional(),
    ingress: z.array(npRule("from")).optional(),
    egress: z.array(npRule("to")).optional(),
  }),
  status: z.unknown().optional(),
}).transform((np) => ({
  ...np,
  metadata: { ...np.metadata, namespace: np.metadata.namespace ?? "default" },
  spec: {
    ...np.spec,
    // The API server defaults each port's protocol to TCP.
    ...(np.spec.ingress ? { ingress: np.spec.ingress.map((r) => ({ ...r, ...(r.ports ? { ports: r.ports.map(tcpDefault) } : {}) })) } : {}),
    ...(np.spec.egress ? { egress: np.spec.egress.map((r) => ({ ...r, ...(r.ports ? { ports: r.ports.map(tcpDefault) } : {}) })) } : {}),
    // The API server's default: Ingress, plus Egress when egress rules are present.
    policyTypes: np.spec.policyTypes ?? (np.spec.egress?.length ? (["Ingress", "Egress"] as const) : (["Ingress"] as const)).slice(),
  },
}));

export type Namespace = z.output<typeof namespaceSchema>;
export type Pod = z.output<typeof podSchema>;
/** networking.k8s.io/v1 NetworkPolicy. */
export type KubeNetworkPolicy = z.output<typeof kubeNetworkPolicySchema>;
export type KubeLabelSelector = z.output<typeof labelSelector>;

/** The pod's IPs, from status.podIPs or status.podIP. */
export function podIPs(pod: Pod): string[] {
  const ips = pod.status?.podIPs?.map((p) => p.ip) ?? [];
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}
