// Names of the objects a real-mode run creates. Every one carries the `bc-` prefix and the run id,
// so ownership can be read off the object itself:
//   namespaces   bc-<run>-<element>   (one per node and router; element names are DNS-1123)
//                bc-<run>_fabric      (the bridges; "_" cannot occur in an element name)
//   links        bc-s<seg>            bridge of segment <seg> (1-based), inside the fabric namespace
//                bc-s<seg>p<port>     fabric end of an attachment (port 1-based per segment)
//                eth0, eth1, ...      element end, inside the element's namespace
//   link alias   bc:<run>             on every link we create (the kernel keeps it, `ip -j link` shows it)
//   nft tables   bc_<run>
// Interface names live inside our own namespaces, so they only need to be unique per namespace and
// at most 15 bytes (IFNAMSIZ - 1).
import { createHash, randomBytes } from "node:crypto";

export const PREFIX = "bc-";
export const IFNAME_MAX = 15;
/** Run ids: 6-12 lowercase letters/digits. Short enough to type, long enough not to look like other bc- names. */
export const RUN_ID_RE = /^[a-z0-9]{6,12}$/;
/** Longest namespace name we make (the kernel has no limit, but names end up in paths and tables). */
export const NETNS_NAME_MAX = 64;

export function newRunId(): string {
  return randomBytes(3).toString("hex");
}

/** Throws a plain Error with the reason when `id` is not a valid run id. */
export function checkRunId(id: string): string {
  if (!RUN_ID_RE.test(id)) throw new Error(`bad run id "${id}": 6-12 lowercase letters or digits expected`);
  return id;
}

/** `bc:<run>`, the alias put on every link of the run. */
export const linkMarker = (run: string): string => `bc:${run}`;
/** The run a link alias marks, if it is one of ours. */
export function runOfLinkMarker(alias: string | undefined): string | undefined {
  const m = /^bc:([a-z0-9]{6,12})$/.exec(alias ?? "");
  return m?.[1];
}

export const fabricNetns = (run: string): string => `${PREFIX}${run}_fabric`;
export const nftTableName = (run: string): string => `bc_${run}`;

const short = (s: string, n: number) => createHash("sha256").update(s).digest("hex").slice(0, n);

/**
 * The namespace of a node or router: `bc-<run>-<element>`; names that would be longer than
 * NETNS_NAME_MAX, or have characters outside [a-z0-9.-], keep a readable prefix and get a hash of
 * the full name (deterministic, and different elements get different names).
 */
export function elementNetns(run: string, element: string): string {
  const plain = `${PREFIX}${run}-${element}`;
  if (plain.length <= NETNS_NAME_MAX && /^[a-z0-9][a-z0-9.-]*$/.test(element)) return plain;
  const head = `${PREFIX}${run}-`;
  const keep = element.replace(/[^a-z0-9.-]/g, "").slice(0, NETNS_NAME_MAX - head.length - 9);
  return `${head}${keep}~${short(element, 8)}`;
}

/** The run a namespace name belongs to (`bc-<run>-…` or `bc-<run>_…`), if it has that shape. */
export function runOfNetns(name: string): string | undefined {
  const m = /^bc-([a-z0-9]{6,12})[-_]/.exec(name);
  return m?.[1];
}

/** Bridge of segment `seg` (1-based) in the fabric namespace. */
export function bridgeName(seg: number): string {
  return checkIfname(`bc-s${seg}`);
}

/** Fabric end of the `port`-th (1-based) attachment to segment `seg`. */
export function fabricPortName(seg: number, port: number): string {
  return checkIfname(`bc-s${seg}p${port}`);
}

/** Element end: the k-th (0-based) interface of a node or router. */
export function elementIfname(k: number): string {
  return checkIfname(`eth${k}`);
}

function checkIfname(name: string): string {
  if (name.length > IFNAME_MAX) throw new Error(`interface name ${name} is longer than ${IFNAME_MAX} characters (too many segments or attachments)`);
  return name;
}
