// K8s NetworkPolicy -> Calico conversion, checked field by field against Calico's rules
// (libcalico-go k8s/conversion K8sNetworkPolicyToCalico).
import { describe, expect, test } from "@jest/globals";
import {
  k8sNetworkPolicyToCalico,
  k8sSelectorToCalico,
  namespaceToProfile,
  podToEndpoint,
  serviceAccountToProfile,
  simplifyPorts,
  K8sConversionError,
  type K8sNetworkPolicy,
} from "../../../src/core/policy/index.ts";
import { parseSelector } from "../../../src/core/policy/selector/index.ts";

const np = (spec: K8sNetworkPolicy["spec"], name = "p", namespace = "ns1"): K8sNetworkPolicy => ({ metadata: { name, namespace }, spec });

describe("k8sSelectorToCalico", () => {
  test("pod selectors are prefixed with the orchestrator and sort matchLabels keys", () => {
    expect(k8sSelectorToCalico({ matchLabels: { b: "2", a: "1" } }, "pod")).toBe(
      "projectcalico.org/orchestrator == 'k8s' && a == '1' && b == '2'",
    );
    expect(k8sSelectorToCalico({}, "pod")).toBe("projectcalico.org/orchestrator == 'k8s'");
    expect(k8sSelectorToCalico(undefined, "pod")).toBe("projectcalico.org/orchestrator == 'k8s'");
  });

  test("match expressions", () => {
    const sel = k8sSelectorToCalico(
      {
        matchExpressions: [
          { key: "tier", operator: "In", values: ["a", "b"] },
          { key: "env", operator: "NotIn", values: ["dev"] },
          { key: "x", operator: "Exists" },
          { key: "y", operator: "DoesNotExist" },
        ],
      },
      "namespace",
    );
    expect(sel).toBe("tier in { 'a', 'b' } && env not in { 'dev' } && has(x) && ! has(y)");
    expect(parseSelector(sel).canonical).toBe('(tier in {"a", "b"} && env not in {"dev"} && has(x) && !has(y))');
  });

  test("an empty namespace selector is all(), an absent one is empty", () => {
    expect(k8sSelectorToCalico({}, "namespace")).toBe("all()");
    expect(k8sSelectorToCalico(undefined, "namespace")).toBe("");
  });
});

describe("k8sNetworkPolicyToCalico", () => {
  test("name, tier, order, namespace, selector", () => {
    const p = k8sNetworkPolicyToCalico(np({ podSelector: { matchLabels: { app: "db" } } }, "allow-db", "prod"));
    expect(p).toEqual({
      kind: "KubernetesNetworkPolicy",
      name: "knp.default.allow-db",
      namespace: "prod",
      spec: { tier: "default", order: 1000, selector: "projectcalico.org/orchestrator == 'k8s' && app == 'db'", types: ["Ingress"] },
    });
  });

  test("policyTypes: absent -> Ingress; Egress only; both in fixed order", () => {
    expect(k8sNetworkPolicyToCalico(np({ egress: [{}] })).spec.types).toEqual(["Ingress"]);
    expect(k8sNetworkPolicyToCalico(np({ policyTypes: ["Egress"] })).spec.types).toEqual(["Egress"]);
    expect(k8sNetworkPolicyToCalico(np({ policyTypes: ["Egress", "Ingress"] })).spec.types).toEqual(["Ingress", "Egress"]);
  });

  test("an empty ingress rule allows everything", () => {
    expect(k8sNetworkPolicyToCalico(np({ ingress: [{}] })).spec.ingress).toEqual([{ action: "Allow", source: {}, destination: {} }]);
  });

  test("one rule per protocol, protocols sorted, missing protocol is TCP, ports coalesced", () => {
    const p = k8sNetworkPolicyToCalico(
      np({
        ingress: [
          {
            ports: [
              { protocol: "UDP", port: 53 },
              { port: 81 },
              { port: 80 },
              { protocol: "TCP", port: 82 },
              { protocol: "SCTP", port: 9000 },
              { port: "http" },
            ],
          },
        ],
      }),
    );
    expect(p.spec.ingress).toEqual([
      { action: "Allow", protocol: "SCTP", source: {}, destination: { ports: [9000] } },
      { action: "Allow", protocol: "TCP", source: {}, destination: { ports: ["http", "80:82"] } },
      { action: "Allow", protocol: "UDP", source: {}, destination: { ports: [53] } },
    ]);
  });

  test("endPort becomes a range; a port entry without a port means all ports of that protocol", () => {
    const p = k8sNetworkPolicyToCalico(
      np({ egress: [{ ports: [{ port: 32000, endPort: 32768 }, { protocol: "UDP" }, { protocol: "UDP", port: 53 }] }], policyTypes: ["Egress"] }),
    );
    expect(p.spec.egress).toEqual([
      { action: "Allow", protocol: "TCP", source: {}, destination: { ports: ["32000:32768"] } },
      { action: "Allow", protocol: "UDP", source: {}, destination: {} },
    ]);
  });

  test("peers: one rule per peer per protocol; ipBlock -> nets/notNets; selectors", () => {
    const p = k8sNetworkPolicyToCalico(
      np({
        ingress: [
          {
            from: [
              { ipBlock: { cidr: "10.0.0.1/8", except: ["10.1.0.0/16"] } },
              { podSelector: { matchLabels: { app: "web" } } },
              { namespaceSelector: {} },
              { namespaceSelector: { matchLabels: { team: "a" } }, podSelector: { matchLabels: { role: "x" } } },
            ],
            ports: [{ port: 443 }, { protocol: "UDP", port: 443 }],
          },
        ],
      }),
    );
    const k8s = "projectcalico.org/orchestrator == 'k8s'";
    const peers = [
      { nets: ["10.0.0.0/8"], notNets: ["10.1.0.0/16"] },
      { selector: `${k8s} && app == 'web'` },
      { selector: k8s, namespaceSelector: "all()" },
      { selector: `${k8s} && role == 'x'`, namespaceSelector: "team == 'a'" },
    ];
    expect(p.spec.ingress).toEqual([
      ...peers.map((source) => ({ action: "Allow", protocol: "TCP", source, destination: { ports: [443] } })),
      ...peers.map((source) => ({ action: "Allow", protocol: "UDP", source, destination: { ports: [443] } })),
    ]);
  });

  test("egress rules put peer and ports in the destination", () => {
    const p = k8sNetworkPolicyToCalico(np({ policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ port: 53, protocol: "UDP" }] }] }));
    expect(p.spec.egress).toEqual([{ action: "Allow", protocol: "UDP", source: {}, destination: { ports: [53], nets: ["0.0.0.0/0"] } }]);
  });

  test("rules are ordered by protocol, then peer", () => {
    const p = k8sNetworkPolicyToCalico(
      np({
        ingress: [
          {
            ports: [{ port: 90, protocol: "UDP" }, { port: 80, protocol: "TCP" }],
            from: [{ podSelector: { matchLabels: { k: "v" } } }, { podSelector: { matchLabels: { k2: "v2" } } }],
          },
        ],
      }),
    );
    expect(p.spec.ingress?.map((r) => [r.protocol, r.source?.selector, r.destination?.ports])).toEqual([
      ["TCP", "projectcalico.org/orchestrator == 'k8s' && k == 'v'", [80]],
      ["TCP", "projectcalico.org/orchestrator == 'k8s' && k2 == 'v2'", [80]],
      ["UDP", "projectcalico.org/orchestrator == 'k8s' && k == 'v'", [90]],
      ["UDP", "projectcalico.org/orchestrator == 'k8s' && k2 == 'v2'", [90]],
    ]);
  });

  test("one numeric port with named ports keeps the written order", () => {
    const p = k8sNetworkPolicyToCalico(np({ ingress: [{ ports: [{ port: 80 }, { port: "foo" }] }] }));
    expect(p.spec.ingress?.[0]?.destination?.ports).toEqual([80, "foo"]);
  });

  test("bad ports and CIDRs are conversion errors", () => {
    expect(() => k8sNetworkPolicyToCalico(np({ ingress: [{ ports: [{ port: 70000 }] }] }))).toThrow(K8sConversionError);
    expect(() => k8sNetworkPolicyToCalico(np({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/33" } }] }] }))).toThrow(K8sConversionError);
  });
});

describe("simplifyPorts", () => {
  test("coalesces adjacent and duplicate numbers, keeps names first", () => {
    const r = (min: number, max = min) => ({ kind: "range", min, max }) as const;
    expect(simplifyPorts([r(82), { kind: "named", name: "dns" }, r(80), r(81), r(81), r(9090)])).toEqual([
      { kind: "named", name: "dns" },
      r(80, 82),
      r(9090),
    ]);
    expect(simplifyPorts([r(5, 10)])).toEqual([r(5, 10)]);
  });
});

describe("namespaces, service accounts and pods", () => {
  test("namespace profile carries pcns labels incl. projectcalico.org/name and kubernetes.io/metadata.name", () => {
    expect(namespaceToProfile({ name: "prod", labels: { team: "a" } })).toEqual({
      name: "kns.prod",
      ingress: [{ action: "Allow" }],
      egress: [{ action: "Allow" }],
      labelsToApply: {
        "pcns.team": "a",
        "pcns.kubernetes.io/metadata.name": "prod",
        "pcns.projectcalico.org/name": "prod",
      },
    });
  });

  test("service account profile", () => {
    expect(serviceAccountToProfile({ name: "api", namespace: "prod", labels: { role: "x" } })).toEqual({
      name: "ksa.prod.api",
      labelsToApply: { "pcsa.role": "x", "pcsa.projectcalico.org/name": "api" },
    });
  });

  test("pod endpoint gets Calico's implicit labels and profiles", () => {
    expect(podToEndpoint({ name: "web-1", namespace: "prod", labels: { app: "web" }, ips: ["10.0.0.1"], serviceAccount: "api" })).toEqual({
      kind: "workload",
      name: "web-1",
      namespace: "prod",
      labels: {
        app: "web",
        "projectcalico.org/namespace": "prod",
        "projectcalico.org/orchestrator": "k8s",
        "projectcalico.org/serviceaccount": "api",
      },
      ips: ["10.0.0.1"],
      profiles: ["kns.prod", "ksa.prod.api"],
    });
  });
});
