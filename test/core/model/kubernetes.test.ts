// Kubernetes Namespace, Pod and networking.k8s.io/v1 NetworkPolicy.
import { describe, expect, test } from "@jest/globals";
import { podIPs, type KubeNetworkPolicy, type Pod } from "../../../src/core/model/index.ts";
import { one, problems } from "./helpers.ts";

const pod = (extra: string) => `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  nodeName: node-1
  containers:
  - name: nginx
    image: nginx
${extra}`;

const netpol = (spec: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np
  namespace: shop
spec:
${spec
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;

describe("Pod", () => {
  test("ports default to TCP; unknown fields anywhere are kept", () => {
    const p = one(pod("    ports:\n    - containerPort: 80\n      name: http\n    - containerPort: 53\n      protocol: UDP\n    resources: {}\n  dnsPolicy: ClusterFirst\nstatus:\n  podIP: 10.1.0.5\n  qosClass: BestEffort\n")) as Pod;
    expect(p.spec.containers[0]!.ports).toEqual([
      { containerPort: 80, name: "http", protocol: "TCP" },
      { containerPort: 53, protocol: "UDP" },
    ]);
    expect((p.spec as Record<string, unknown>).dnsPolicy).toBe("ClusterFirst");
    expect(p.spec.nodeName).toBe("node-1");
    expect(podIPs(p)).toEqual(["10.1.0.5"]);
  });

  test("podIPs wins over podIP and the namespace defaults to default", () => {
    const p = one(pod("status:\n  podIP: 10.1.0.5\n  podIPs: [{ip: 10.1.0.5}, {ip: 'fd00::5'}]\n").replace("  namespace: shop\n", "")) as Pod;
    expect(podIPs(p)).toEqual(["10.1.0.5", "fd00::5"]);
    expect(p.metadata.namespace).toBe("default");
  });

  test.each([
    ["port 0", "    ports: [{containerPort: 0}]\n", "spec.containers[0].ports[0].containerPort: must be 1-65535"],
    ["bad protocol", "    ports: [{containerPort: 80, protocol: ICMP}]\n", 'expected one of "TCP", "UDP", "SCTP"'],
    ["long port name", "    ports: [{containerPort: 80, name: a-very-long-port-name}]\n", "must be at most 15 characters"],
    ["bad pod IP", "status:\n  podIP: 10.1.0.500\n", 'status.podIP: invalid IP address "10.1.0.500"'],
    ["duplicate port names", "    ports: [{containerPort: 80, name: http}, {containerPort: 81, name: http}]\n", 'port name "http" is used twice'],
  ])("%s", (_n, extra, message) => {
    expect(problems(pod(extra)).join("\n")).toContain(message);
  });

  test("a pod needs containers", () => {
    expect(problems("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {nodeName: n}\n")).toEqual([
      "t.yaml:4:1: spec.containers: required field is missing (expected a list)",
    ]);
  });
});

describe("Namespace", () => {
  test("anything kubectl prints is accepted", () => {
    expect(problems("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {team: web}\nspec:\n  finalizers: [kubernetes]\nstatus:\n  phase: Active\n")).toEqual([]);
  });

  test("a namespace name is a DNS label", () => {
    expect(problems("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a.b\n")).toEqual([
      "t.yaml:4:9: metadata.name: a namespace name must be a DNS-1123 label (lower case alphanumeric characters or '-', at most 63)",
    ]);
  });
});

describe("Kubernetes NetworkPolicy", () => {
  test("policyTypes default: Ingress, plus Egress when there are egress rules", () => {
    expect((one(netpol("podSelector: {}")) as KubeNetworkPolicy).spec.policyTypes).toEqual(["Ingress"]);
    expect((one(netpol("podSelector: {}\negress: [{to: [{podSelector: {}}]}]")) as KubeNetworkPolicy).spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect((one(netpol("podSelector: {}\npolicyTypes: [Egress]")) as KubeNetworkPolicy).spec.policyTypes).toEqual(["Egress"]);
  });

  test("a full policy is accepted", () => {
    const np = one(
      netpol(
        "podSelector: {matchLabels: {app: db}}\ningress:\n- from:\n  - podSelector: {matchLabels: {app: web}}\n    namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [web]}]}\n  - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n  ports:\n  - {protocol: TCP, port: 5432}\n  - {port: http}\n  - {port: 30000, endPort: 32767}",
      ),
    ) as KubeNetworkPolicy;
    expect(np.spec.ingress?.[0]?.ports?.map((p) => p.protocol)).toEqual(["TCP", "TCP", "TCP"]);
  });

  test.each([
    ["unknown spec field", "podSelector: {}\ningres: []", "spec.ingres: unknown field"],
    ["missing podSelector", "policyTypes: [Ingress]", "spec.podSelector: required field is missing"],
    ["ipBlock with podSelector", "podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]", "may not specify both ipBlock and another peer"],
    ["empty peer", "podSelector: {}\ningress: [{from: [{}]}]", "must specify a peer"],
    ["except outside cidr", "podSelector: {}\negress: [{to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.2.0.0/24]}}]}]", "except 10.2.0.0/24 must be a strict subset of cidr 10.0.0.0/16"],
    ["except equal to cidr", "podSelector: {}\negress: [{to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}}]}]", "must be a strict subset"],
    ["endPort with named port", "podSelector: {}\ningress: [{ports: [{port: http, endPort: 90}]}]", "endPort may only be set with a numeric port"],
    ["endPort below port", "podSelector: {}\ningress: [{ports: [{port: 90, endPort: 80}]}]", "endPort 80 must be greater than or equal to port 90"],
    ["port out of range", "podSelector: {}\ningress: [{ports: [{port: 70000}]}]", "port 70000 is out of range"],
    ["In without values", "podSelector: {matchExpressions: [{key: a, operator: In}]}", "values must be non-empty with operator In"],
    ["Exists with values", "podSelector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}", "values must be empty with operator Exists"],
    ["bad operator", "podSelector: {matchExpressions: [{key: a, operator: Equals}]}", 'expected one of "In", "NotIn", "Exists", "DoesNotExist"'],
    ["from in egress", "podSelector: {}\negress: [{from: []}]", "spec.egress[0].from: unknown field"],
  ])("%s", (_n, spec, message) => {
    expect(problems(netpol(spec)).join("\n")).toContain(message);
  });
});
