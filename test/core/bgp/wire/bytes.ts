// Byte-building helpers for the wire tests: hex in, whole messages out.
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[\s:|]/g, "");
  if (clean.length % 2) throw new Error(`odd hex string ${text}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** A whole message: marker, length, type, body. */
export function message(type: number, body: string | Uint8Array): Uint8Array {
  const b = typeof body === "string" ? hex(body) : body;
  const out = new Uint8Array(19 + b.length);
  out.fill(0xff, 0, 16);
  out[16] = (out.length >> 8) & 255;
  out[17] = out.length & 255;
  out[18] = type;
  out.set(b, 19);
  return out;
}

const u16hex = (n: number): string => n.toString(16).padStart(4, "0");

/** An UPDATE from hex fields: withdrawn routes, path attributes, NLRI. */
export function update(attrs: string, nlri = "", withdrawn = ""): Uint8Array {
  const w = hex(withdrawn);
  const a = hex(attrs);
  return message(2, `${u16hex(w.length)}${withdrawn}${u16hex(a.length)}${attrs}${nlri}`.replace(/\s/g, ""));
}

/** The usual mandatory attributes: ORIGIN IGP, empty AS_PATH, NEXT_HOP 192.0.2.1. */
export const BASE_ATTRS = "40 01 01 00  40 02 00  40 03 04 c0000201";
