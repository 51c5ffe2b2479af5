// Durations as scenario files write them: "500ms", "5s", "2m", "1h", and sums such as "1m30s".
// A bare number is refused: "timeout: 60" would be ambiguous between seconds and milliseconds.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/** Milliseconds, or a message saying what was expected. */
export function parseDuration(text: string): number | { error: string } {
  const s = text.trim();
  const bad = { error: `expected a duration such as 500ms, 5s, 2m or 1m30s, got ${JSON.stringify(text)}` };
  if (s === "") return bad;
  PART.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = PART.exec(s); m !== null; m = PART.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    end = PART.lastIndex;
  }
  if (end !== s.length) return bad;
  return total;
}

/** "1.5s", "250ms", "88.98s", "2m", "1m30s": short, to the microsecond at most, for names and reports. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${+ms.toFixed(3)}ms`;
  if (ms >= 60_000) {
    if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
    const m = Math.floor(ms / 60_000);
    const rest = ms - m * 60_000;
    return rest === 0 ? `${m}m` : `${m}m${formatDuration(rest)}`;
  }
  return `${+(ms / 1000).toFixed(3)}s`;
}
