// Number and text formatting shared by the renderers. Nothing here depends on the locale or the
// clock, so the same report always renders to the same bytes.

/** Rounds to 3 decimals (virtual ms to the microsecond); -0 becomes 0. Integers pass unchanged. */
export function round3(n: number): number {
  if (Number.isInteger(n)) return n === 0 ? 0 : n;
  const r = Math.round(n * 1000) / 1000;
  return r === 0 ? 0 : r;
}

/** 1234567.5 → "1,234,567.5": a fixed separator, unlike toLocaleString. */
export function groupDigits(n: number, decimals = 0): string {
  if (!Number.isFinite(n)) return "n/a";
  let fixed = Math.abs(n).toFixed(decimals);
  if (fixed.includes(".")) fixed = fixed.replace(/\.?0+$/, "");
  const [int = "0", frac] = fixed.split(".");
  const sign = n < 0 && /[1-9]/.test(fixed) ? "-" : "";
  return sign + int.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (frac ? "." + frac : "");
}

/** Scenario time for people: "850 ms", "1,234.5 ms", "12.35 s", "4 min 3.2 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  const abs = Math.abs(ms);
  if (abs < 10_000) return `${groupDigits(ms, abs < 10 ? 3 : 1)} ms`;
  if (abs < 120_000) return `${groupDigits(ms / 1000, 2)} s`;
  const min = Math.floor(abs / 60_000);
  const sec = (abs - min * 60_000) / 1000;
  return `${ms < 0 ? "-" : ""}${min} min ${groupDigits(sec, 1)} s`;
}

/** Seconds with 3 decimals as JUnit's time attribute wants them ("1.234"; never negative or exponent). */
export function seconds(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "0.000";
  return (ms / 1000).toFixed(3);
}

/**
 * Characters that XML 1.0 forbids even as references (C0 controls except tab/newline/return, U+FFFE,
 * U+FFFF, unpaired surrogates). HTML tolerates them but they are garbage on screen; both renderers
 * show them as visible \uXXXX text so nothing is lost silently.
 */
const INVALID_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function visibleControls(s: string): string {
  return s.replace(INVALID_CHARS, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

const TEXT_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const ATTR_ESCAPES: Record<string, string> = { ...TEXT_ESCAPES, "\t": "&#9;", "\n": "&#10;", "\r": "&#13;" };

/** Escapes text for an XML/HTML element body. */
export function escapeText(value: unknown): string {
  return visibleControls(String(value)).replace(/[&<>"']/g, (c) => TEXT_ESCAPES[c] ?? c);
}

/** Escapes an attribute value (quoted with "); tab and newlines as references so they survive normalisation. */
export function escapeAttr(value: unknown): string {
  return visibleControls(String(value)).replace(/[&<>"'\t\n\r]/g, (c) => ATTR_ESCAPES[c] ?? c);
}

/** Code-unit order: stable across machines (localeCompare is not). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Cuts text longer than max characters, saying how much was cut. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  // Never cut between the two halves of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(s[max - 1] ?? "") ? max - 1 : max;
  return `${s.slice(0, end)}… (${s.length - end} more characters)`;
}

/** Steps as people count them (from 1, as the runner's messages do); StepResult.index counts from 0. */
export function stepNumber(index: number): number {
  return index + 1;
}
