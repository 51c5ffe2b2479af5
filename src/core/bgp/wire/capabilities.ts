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
  | { kind: "unknown"; code: number; value: Uint8Array };

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
    case "unknown":
      return c.code;
  }
}

export function findCapability<K extends CapabilityKind>(caps: readonly Capability[], kind: K): Extract<Capability, { kind: K }> | undefined {
  return caps.find((c): c is Extract<Capability, { kind: K }> => c.kind === kind);
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
