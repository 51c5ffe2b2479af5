// Field schemas shared by the Calico and Kubernetes resources: names, labels, metadata, CIDRs,
// ports, protocols, AS numbers. Messages say what was expected; the loader adds path and position.
import * as z from "zod";
import { AddressError, parseIP, parsePrefix, type Prefix } from "../net/ip.ts";

/** Marks an issue that is about a map key (unknown field, bad label key): reported at the key. */
export const AT_KEY = "atKey";

/**
 * An object that rejects fields it does not know, naming the fields it does know, as calicoctl's
 * strict decoding does ("unknown field").
 */
export function strictObject<S extends z.core.$ZodLooseShape>(shape: S) {
  const known = Object.keys(shape);
  const unknown = z.custom<never>(() => false, {
    error: `unknown field; expected one of: ${known.join(", ")}`,
    params: { [AT_KEY]: true },
  });
  return z.object(shape).catchall(unknown);
}

/** An object whose unknown fields are kept as they are (Kubernetes objects pasted from kubectl). */
export const looseObject = <S extends z.core.$ZodLooseShape>(shape: S) => z.looseObject(shape);

// DNS-1123 (Kubernetes apimachinery validation), as Calico's validator uses them.
const labelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
export const dnsLabelRegex = new RegExp(`^${labelFmt}$`);
export const dnsSubdomainRegex = new RegExp(`^${labelFmt}(\\.${labelFmt})*$`);

export const dnsSubdomain = z
  .string()
  .min(1, "must not be empty")
  .max(253, "must be at most 253 characters")
  .regex(dnsSubdomainRegex, "must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character");

export const dnsLabel = z
  .string()
  .min(1, "must not be empty")
  .max(63, "must be at most 63 characters")
  .regex(dnsLabelRegex, "must consist of lower case alphanumeric characters or '-', and start and end with an alphanumeric character");

const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Kubernetes IsQualifiedName: `[prefix/]name`, prefix a DNS subdomain, name ≤ 63 characters. */
export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2) return `"${key}" is not a qualified name (at most one '/')`;
  const name = parts[parts.length - 1] ?? "";
  if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    if (prefix.length === 0) return `"${key}": prefix part must not be empty`;
    if (prefix.length > 253 || !dnsSubdomainRegex.test(prefix)) return `"${key}": prefix part must be a DNS-1123 subdomain`;
  }
  if (name.length === 0) return `"${key}": name part must not be empty`;
  if (name.length > 63) return `"${key}": name part must be at most 63 characters`;
  if (!qualifiedNamePart.test(name)) {
    return `"${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63) return `label value "${value}" must be at most 63 characters`;
  if (!qualifiedNamePart.test(value)) {
    return `label value "${value}" must consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character`;
  }
  return undefined;
}

export const labels = z.record(z.string(), z.string()).superRefine((m, ctx) => {
  for (const [k, v] of Object.entries(m)) {
    const kp = qualifiedNameProblem(k);
    if (kp) ctx.addIssue({ code: "custom", path: [k], message: `invalid label key ${kp}`, params: { [AT_KEY]: true } });
    const vp = labelValueProblem(v);
    if (vp) ctx.addIssue({ code: "custom", path: [k], message: vp });
  }
});

export const annotations = z.record(z.string(), z.string()).superRefine((m, ctx) => {
  for (const k of Object.keys(m)) {
    const kp = qualifiedNameProblem(k.toLowerCase());
    if (kp) ctx.addIssue({ code: "custom", path: [k], message: `invalid annotation key ${kp}`, params: { [AT_KEY]: true } });
  }
});

// The server-set ObjectMeta fields that `kubectl get -o yaml` / `calicoctl get -o yaml` print.
const serverMeta = {
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.string().nullable().optional(),
  deletionTimestamp: z.string().nullable().optional(),
  deletionGracePeriodSeconds: z.number().optional(),
  generateName: z.string().optional(),
  selfLink: z.string().optional(),
  ownerReferences: z.array(z.unknown()).optional(),
  finalizers: z.array(z.string()).optional(),
  managedFields: z.array(z.unknown()).optional(),
};

/** ObjectMeta with a name checked by `name` and an optional namespace. Unknown fields are errors. */
export function metadata(name: z.ZodType<string>, namespaced: boolean) {
  return strictObject({
    name,
    ...(namespaced ? { namespace: dnsLabel.optional() } : {}),
    labels: labels.optional(),
    annotations: annotations.optional(),
    ...serverMeta,
  });
}

/** Metadata of a Kubernetes object copied from a cluster: known fields checked, others kept. */
export function kubeMetadata(namespaced: boolean) {
  return looseObject({
    name: dnsSubdomain,
    ...(namespaced ? { namespace: dnsLabel.optional() } : {}),
    labels: labels.optional(),
    annotations: annotations.optional(),
    ...serverMeta,
  });
}

function addressProblem(e: unknown): string {
  return e instanceof AddressError ? e.message : String(e);
}

/** A CIDR (or a bare IP, meaning a host prefix). Calico's "net": host bits must be clear. */
export const strictCidr = z.string().superRefine((s, ctx) => {
  try {
    parsePrefix(s, { strict: true });
  } catch (e) {
    ctx.addIssue({ code: "custom", message: addressProblem(e) });
  }
});

/** A CIDR that may have host bits set (Calico's "cidr", Kubernetes ipBlock.cidr). */
export const looseCidr = z.string().superRefine((s, ctx) => {
  try {
    parsePrefix(s, { strict: false });
  } catch (e) {
    ctx.addIssue({ code: "custom", message: addressProblem(e) });
  }
});

export const ipAddress = z.string().superRefine((s, ctx) => {
  try {
    parseIP(s);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: addressProblem(e) });
  }
});

/** The prefix of a CIDR text, or undefined when it does not parse (rules run on partly-bad input). */
export function tryPrefix(s: unknown): Prefix | undefined {
  if (typeof s !== "string") return undefined;
  try {
    return parsePrefix(s, { strict: false });
  } catch {
    return undefined;
  }
}

/** Kubernetes IsValidPortName (IANA_SVC_NAME). */
export function portNameProblem(name: string): string | undefined {
  if (name.length > 15) return `port name "${name}" must be at most 15 characters`;
  if (!/^[-a-z0-9]+$/.test(name)) return `port name "${name}" must contain only lower case alphanumeric characters and '-'`;
  if (!/[a-z]/.test(name)) return `port name "${name}" must contain at least one letter`;
  if (name.includes("--")) return `port name "${name}" must not contain consecutive '-'`;
  if (name.startsWith("-") || name.endsWith("-")) return `port name "${name}" must not begin or end with '-'`;
  return undefined;
}

/** A Calico port as written: a number, a "lo:hi" range, or a named port. */
export type PortValue = number | string;

/** A port value understood: a numeric range (a single port has min = max) or a name. */
export type PortSpec = { readonly min: number; readonly max: number } | { readonly name: string };

/** Interprets a validated port value (numorstring.Port semantics). */
export function parsePort(p: PortValue): PortSpec {
  if (typeof p === "number") return { min: p, max: p };
  if (/^\d+$/.test(p)) return { min: Number(p), max: Number(p) };
  const m = /^(\d+):(\d+)$/.exec(p);
  if (m) return { min: Number(m[1]), max: Number(m[2]) };
  return { name: p };
}

function portProblem(p: PortValue): string | undefined {
  const inRange = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (typeof p === "number") return inRange(p) ? undefined : `port ${p} is out of range (expected 1-65535)`;
  if (p.includes(":")) {
    const m = /^(\d+):(\d+)$/.exec(p);
    if (!m) return `port range "${p}" must be "lo:hi" with two numbers`;
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    if (!inRange(lo) || !inRange(hi)) return `port range "${p}" is out of range (expected 1-65535)`;
    if (lo > hi) return `port range "${p}" is reversed (lo must be <= hi)`;
    return undefined;
  }
  if (/^\d+$/.test(p)) return inRange(Number(p)) ? undefined : `port ${p} is out of range (expected 1-65535)`;
  return portNameProblem(p);
}

export const port = z
  .union([z.number(), z.string()], { error: 'expected a port: a number 1-65535, a range "lo:hi", or a port name' })
  .superRefine((p, ctx) => {
    const problem = portProblem(p);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const protocolNames = ["TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite"] as const;

/** A Calico protocol: one of the names, or a number 1-255 (numorstring.Protocol). */
export const protocol = z
  .union([z.number(), z.string()], { error: `expected a protocol: ${protocolNames.join(", ")} or a number 1-255` })
  .superRefine((p, ctx) => {
    if (typeof p === "number" || /^\d+$/.test(p)) {
      const n = Number(p);
      if (!Number.isInteger(n) || n < 1 || n > 255) ctx.addIssue({ code: "custom", message: `protocol number ${p} is invalid (expected 1-255)` });
      return;
    }
    if (!(protocolNames as readonly string[]).includes(p)) {
      const hint = protocolNames.find((n) => n.toLowerCase() === p.toLowerCase());
      ctx.addIssue({
        code: "custom",
        message: `protocol "${p}" is invalid (expected one of ${protocolNames.join(", ")} or a number 1-255)${hint ? `; did you mean ${hint}?` : ""}`,
      });
    }
  });

/** Whether a protocol carries ports (numorstring.Protocol.SupportsPorts): TCP, UDP, SCTP. */
export function protocolSupportsPorts(p: number | string | undefined): boolean {
  if (p === undefined) return false;
  const s = String(p);
  return s === "TCP" || s === "UDP" || s === "SCTP" || s === "6" || s === "17" || s === "132";
}

const MAX_AS = 4294967295;

/** Parses an AS number: a number, a decimal string, or the "a.b" asdot form. Undefined if invalid. */
export function parseASNumber(v: number | string): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) && v >= 0 && v <= MAX_AS ? v : undefined;
  const dot = /^(\d+)\.(\d+)$/.exec(v);
  if (dot) {
    const hi = Number(dot[1]);
    const lo = Number(dot[2]);
    return hi <= 65535 && lo <= 65535 ? hi * 65536 + lo : undefined;
  }
  if (/^\d+$/.test(v)) return parseASNumber(Number(v));
  return undefined;
}

/** numorstring.ASNumber: given as a number or "a.b"; always a number after loading. */
export const asNumber = z
  .union([z.number(), z.string()], { error: 'expected an AS number: 0-4294967295 or "a.b" (asdot)' })
  .transform((v, ctx) => {
    const n = parseASNumber(v);
    if (n === undefined) {
      ctx.addIssue({ code: "custom", message: `AS number ${JSON.stringify(v)} is invalid (expected 0-4294967295 or "a.b" with each part 0-65535)` });
      return z.NEVER;
    }
    return n;
  });

/** A selector expression, stored as text; its syntax is checked by the loader (see selector-check.ts). */
export const selector = z.string().max(1024, "must be at most 1024 characters");

export const ipVersion = z.union([z.literal(4), z.literal(6)], { error: "expected 4 or 6" });
