// Report rendering cost and size for growing runs: report.json, junit.xml and report.html from a
// synthetic route-reflector run (test/report/fixtures.ts: 2 sessions and 2-5 routes per node,
// 12,001 samples, 3,000 steps, 5,000 assertions, 1,000 probes, 20,000 timeline events), against a
// plain JSON.stringify of the same data as the floor. Run: npx tsx bench/report-render.ts
import { htmlReport, junitXml, reportJson } from "../src/report/index.ts";
import { bigScenario, report } from "../test/report/fixtures.ts";

const ROUNDS = 3;

function best(fn: () => string): { ms: number; bytes: number } {
  let ms = Infinity;
  let bytes = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    bytes = Buffer.byteLength(fn());
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, bytes };
}

const mb = (b: number): string => `${(b / 1e6).toFixed(2)} MB`;
console.log(`best of ${ROUNDS}; sizes in MB (1e6 bytes)`);
console.log(`${"nodes".padStart(7)}  ${"JSON.stringify".padStart(22)}  ${"reportJson".padStart(22)}  ${"junitXml".padStart(20)}  ${"htmlReport".padStart(22)}`);
for (const nodes of [100, 1_000, 10_000]) {
  const r = report(bigScenario(nodes));
  const plain = best(() => JSON.stringify(r, null, 2));
  const json = best(() => reportJson(r));
  const junit = best(() => junitXml(r));
  const html = best(() => htmlReport(r));
  const cell = (x: { ms: number; bytes: number }): string => `${x.ms.toFixed(0).padStart(6)} ms ${mb(x.bytes).padStart(9)}`;
  console.log(`${String(nodes).padStart(7)}  ${cell(plain).padStart(22)}  ${cell(json).padStart(22)}  ${cell(junit).padStart(20)}  ${cell(html).padStart(22)}   reportJson/stringify ${(json.ms / plain.ms).toFixed(2)}x`);
}
