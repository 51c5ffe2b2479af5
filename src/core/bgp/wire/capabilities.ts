// OPEN capabilities (RFC 5492). The ones a Calico-style speaker acts on are decoded into typed values;
// everything else (ADD-PATH, FQDN, LLGR, Cisco's 128, ...) stays raw so it can be logged and ignored.
import { CapabilityCode, ErrorCode, GracefulRestartFamilyFlag, GracefulRestartFlag, OpenErrorSubcode } from "./constants.ts";
import { BgpWireError } from "./errors.ts";
import { ByteWriter, checkUint, readU16, readU32 } from "./writer.ts";

export interface GracefulRestartFamily {
  afi: number;
  safi: number;
  /** F bit: forwarding state was preserved across the restart. */
  forwarding: boolean;
}

export type Capability =
  | { kind: "multiprotocol"; afi: number; safi: number }
  | { kind: "route-refresh" }
  | { kind: "enhanced-route-refresh" }
  | {
      kind: "graceful-restart";
      /** R bit (RFC 4724). */
      restarting: boolean;
      /** N bit (RFC 8538): GR also covers NOTIFICATIONs other than Hard Reset. */
      notification: boolean;
      /** Seconds, 0..4095. */
      restartTime: number;
      families: GracefulRestartFamily[];
    }
  | { kind: "four-octet-as"; asn: number }
  /** RFC 7911; sendReceive per family: 1 receive, 2 send, 3 both. */
  | { kind: "add-path"; families: AddPathFamily[] }
  /** RFC 8654: messages up to 65535 octets (not OPEN/KEEPALIVE) once both sides announce it. */
  | { kind: "extended-message" }
  | { kind: "unknown"; code: number; value: Uint8Array };

export interface AddPathFamily {
  afi: number;
  safi: number;
  sendReceive: number;
}

export type CapabilityKind = Capability["kind"];

const malformed = (detail: string): BgpWireError =>
  new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenErrorSubcode.UNSPECIFIC, new Uint8Array(0), detail);

/** Decodes the capability list of one Capabilities optional parameter: b[start, end). */
export function decodeCapabilities(b: Uint8Array, start: number, end: number, out: Capability[]): void {
  let o = start;
  while (o < end) {
    if (o + 2 > end) throw malformed("truncated capability header");
    const code = b[o] ?? 0;
    const len = b[o + 1] ?? 0;
    o += 2;
    if (o + len > end) throw malformed(`capability ${code} length ${len} overruns its parameter`);
    out.push(decodeCapability(code, b, o, len));
    o += len;
  }
}

function decodeCapability(code: number, b: Uint8Array, o: number, len: number): Capability {
  const expect = (n: number, name: string): void => {
    if (len !== n) throw malformed(`${name} capability length ${len}, expected ${n}`);
  };
  switch (code) {
    case CapabilityCode.MULTIPROTOCOL:
      expect(4, "multiprotocol");
      return { kind: "multiprotocol", afi: readU16(b, o), safi: b[o + 3] ?? 0 };
    case CapabilityCode.ROUTE_REFRESH:
      expect(0, "route refresh");
      return { kind: "route-refresh" };
    case CapabilityCode.ENHANCED_ROUTE_REFRESH:
      expect(0, "enhanced route refresh");
      return { kind: "enhanced-route-refresh" };
    case CapabilityCode.FOUR_OCTET_AS:
      expect(4, "4-octet AS");
      return { kind: "four-octet-as", asn: readU32(b, o) };
    case CapabilityCode.EXTENDED_MESSAGE:
      expect(0, "extended message");
      return { kind: "extended-message" };
    case CapabilityCode.ADD_PATH: {
      if (len % 4 !== 0) throw malformed(`ADD-PATH capability length ${len}`);
      const families: AddPathFamily[] = [];
      for (let i = o; i < o + len; i += 4) families.push({ afi: readU16(b, i), safi: b[i + 2] ?? 0, sendReceive: b[i + 3] ?? 0 });
      return { kind: "add-path", families };
    }
    case CapabilityCode.GRACEFUL_RESTART: {
      if (len < 2 || (len - 2) % 4 !== 0) throw malformed(`graceful restart capability length ${len}`);
      const word = readU16(b, o);
      const flags = word >>> 12;
      const families: GracefulRestartFamily[] = [];
      for (let i = o + 2; i < o + len; i += 4) {
        families.push({
          afi: readU16(b, i),
          safi: b[i + 2] ?? 0,
          forwarding: ((b[i + 3] ?? 0) & GracefulRestartFamilyFlag.FORWARDING) !== 0,
        });
      }
      return {
        kind: "graceful-restart",
        restarting: (flags & GracefulRestartFlag.RESTART) !== 0,
        notification: (flags & GracefulRestartFlag.NOTIFICATION) !== 0,
        restartTime: word & 0x0fff,
        families,
      };
    }
    default:
      return { kind: "unknown", code, value: b.slice(o, o + len) };
  }
}

export function encodeCapability(w: ByteWriter, c: Capability): void {
  switch (c.kind) {
    case "multiprotocol":
      checkUint("AFI", c.afi, 0xffff);
      checkUint("SAFI", c.safi, 0xff);
      w.u8(CapabilityCode.MULTIPROTOCOL);
      w.u8(4);
      w.u16(c.afi);
      w.u8(0);
      w.u8(c.safi);
      return;
    case "route-refresh":
      w.u8(CapabilityCode.ROUTE_REFRESH);
      w.u8(0);
      return;
    case "enhanced-route-refresh":
      w.u8(CapabilityCode.ENHANCED_ROUTE_REFRESH);
      w.u8(0);
      return;
    case "four-octet-as":
      checkUint("AS number", c.asn, 0xffffffff);
      w.u8(CapabilityCode.FOUR_OCTET_AS);
      w.u8(4);
      w.u32(c.asn);
      return;
    case "graceful-restart": {
      checkUint("restart time", c.restartTime, 0x0fff);
      const len = 2 + 4 * c.families.length;
      checkUint("graceful restart capability length", len, 255);
      w.u8(CapabilityCode.GRACEFUL_RESTART);
      w.u8(len);
      const flags = (c.restarting ? GracefulRestartFlag.RESTART : 0) | (c.notification ? GracefulRestartFlag.NOTIFICATION : 0);
      w.u16((flags << 12) | c.restartTime);
      for (const f of c.families) {
        w.u16(f.afi);
        w.u8(f.safi);
        w.u8(f.forwarding ? GracefulRestartFamilyFlag.FORWARDING : 0);
      }
      return;
    }
    case "extended-message":
      w.u8(CapabilityCode.EXTENDED_MESSAGE);
      w.u8(0);
      return;
    case "add-path":
      checkUint("ADD-PATH capability length", 4 * c.families.length, 255);
      w.u8(CapabilityCode.ADD_PATH);
      w.u8(4 * c.families.length);
      for (const f of c.families) {
        checkUint("AFI", f.afi, 0xffff);
        checkUint("SAFI", f.safi, 0xff);
        checkUint("ADD-PATH send/receive", f.sendReceive, 0xff);
        w.u16(f.afi);
        w.u8(f.safi);
        w.u8(f.sendReceive);
      }
      return;
    case "unknown":
      checkUint("capability code", c.code, 255);
      checkUint("capability length", c.value.length, 255);
      w.u8(c.code);
      w.u8(c.value.length);
      w.bytes(c.value);
      return;
  }
}

/** The capability's wire code, for unknown ones too. */
export function capabilityCode(c: Capability): number {
  switch (c.kind) {
    case "multiprotocol":
      return CapabilityCode.MULTIPROTOCOL;
    case "route-refresh":
      return CapabilityCode.ROUTE_REFRESH;
    case "enhanced-route-refresh":
      return CapabilityCode.ENHANCED_ROUTE_REFRESH;
    case "graceful-restart":
      return CapabilityCode.GRACEFUL_RESTART;
    case "four-octet-as":
      return CapabilityCode.FOUR_OCTET_AS;
    case "extended-message":
      return CapabilityCode.EXTENDED_MESSAGE;
    case "add-path":
      return CapabilityCode.ADD_PATH;
    case "unknown":
      return c.code;
  }
}

export function findCapability<K extends CapabilityKind>(caps: readonly Capability[], kind: K): Extract<Capability, { kind: K }> | undefined {
  // A loop, not find(): called several times per OPEN, a closure each would be garbage.
  for (const c of caps) if (c.kind === kind) return c as Extract<Capability, { kind: K }>;
  return undefined;
}

/** The (AFI, SAFI) pairs announced with the Multiprotocol capability. */
export function multiprotocolFamilies(caps: readonly Capability[]): { afi: number; safi: number }[] {
  return caps.flatMap((c) => (c.kind === "multiprotocol" ? [{ afi: c.afi, safi: c.safi }] : []));
}

/**
 * The data of an OPEN 2/7 Unsupported Capability NOTIFICATION (RFC 5492 §3): the offending
 * capabilities, encoded as they would appear in an OPEN.
 */
export function unsupportedCapabilityData(caps: readonly Capability[]): Uint8Array {
  const w = new ByteWriter(64);
  for (const c of caps) encodeCapability(w, c);
  return w.finish();
}

/**
 * RFC 7911 §4: per direction, the families whose NLRI carry Path Identifiers. Pass `receive` as the
 * decoder's addPath option and `send` as the encoder's.
 */
export function negotiateAddPath(
  local: readonly Capability[],
  peer: readonly Capability[],
): { receive: { afi: number; safi: number }[]; send: { afi: number; safi: number }[] } {
  const mine = findCapability(local, "add-path")?.families ?? [];
  const theirs = findCapability(peer, "add-path")?.families ?? [];
  const receive: { afi: number; safi: number }[] = [];
  const send: { afi: number; safi: number }[] = [];
  for (const m of mine) {
    const t = theirs.find((x) => x.afi === m.afi && x.safi === m.safi);
    if (!t) continue;
    if (m.sendReceive & 1 && t.sendReceive & 2) receive.push({ afi: m.afi, safi: m.safi });
    if (m.sendReceive & 2 && t.sendReceive & 1) send.push({ afi: m.afi, safi: m.safi });
  }
  return { receive, send };
}
