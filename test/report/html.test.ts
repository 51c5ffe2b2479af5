import { describe, expect, test } from "@jest/globals";
import { HTML_LIMITS, htmlReport } from "../../src/report/index.ts";
import { NASTY, bigScenario, failingScenario, nastyScenario, passingScenario, report } from "./fixtures.ts";
import { expatRoot, requirePython } from "./python-xml.ts";
import { parseXml, textOf, walk, type XmlElement } from "./xml-check.ts";

const all = (root: XmlElement): XmlElement[] => [...walk(root)];
const byClass = (root: XmlElement, cls: string): XmlElement[] => all(root).filter((e) => (e.attrs.class ?? "").split(" ").includes(cls));

/** The page is written as XML-compatible HTML (void elements self-closed), so the strict reader checks its nesting. */
function parsePage(html: string): XmlElement {
  expect(html.startsWith("<!DOCTYPE html>\n<html lang=\"en\">")).toBe(true);
  return parseXml(html);
}

function noExternalReferences(html: string): void {
  expect(html).not.toMatch(/https?:\/\//i);
  expect(html).not.toMatch(/<(script|link|iframe|img|object|embed|audio|video|source|base)\b/i);
  expect(html).not.toMatch(/url\(|@import/i);
  expect(html).not.toMatch(/\son[a-z]+\s*=/i);
  for (const m of html.matchAll(/\s(src|href|xlink:href|action|srcset)\s*=\s*"([^"]*)"/gi)) {
    expect(`${m[1]}=${m[2]}`).toMatch(/^href=#/);
  }
}

describe("htmlReport", () => {
  test("a failing run: verdict badge, scenario sections, well-formed, nothing external", () => {
    const html = htmlReport(report(passingScenario(), failingScenario()));
    const root = parsePage(html);
    noExternalReferences(html);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"/>`);
    expect(html).toContain("prefers-color-scheme:dark");
    const status = all(root).find((e) => e.attrs.role === "status")!;
    expect(textOf(status)).toBe("FAILED");
    expect(status.attrs.class).toBe("badge fail");
    const sections = all(root).filter((e) => e.name === "section");
    expect(sections.map((s) => s.attrs.id)).toEqual(["s1", "s2"]);
    expect(sections[1]!.attrs.class).toBe("scenario failed");
    // The nav links point at the sections.
    expect(all(root).filter((e) => e.name === "a").map((a) => a.attrs.href)).toEqual(["#s1", "#s2"]);
    const title = all(root).find((e) => e.name === "title")!;
    expect(title.text).toContain("FAILED");
  });

  test("assertion table: failed rows marked, details open on failure and collapsible", () => {
    const root = parsePage(htmlReport(report(failingScenario())));
    const failedRows = byClass(root, "failed").filter((e) => e.name === "tr");
    const failedAssertion = failedRows.find((r) => textOf(r).includes("reaches c/cache-1"))!;
    expect(textOf(failedAssertion)).toContain("dropped at router r1: no route to 10.1.3.0/26");
    const details = all(failedAssertion).find((e) => e.name === "details")!;
    expect(details.attrs).toEqual({ open: "" });
    const passedRow = all(root).filter((e) => e.name === "tr" && e.attrs.class === "passed").find((r) => textOf(r).includes("reaches b/db-1"))!;
    const passedDetails = all(passedRow).find((e) => e.name === "details")!;
    expect(passedDetails.attrs).toEqual({});
    expect(textOf(all(passedDetails).find((e) => e.name === "summary")!)).toBe("1 detail line");
  });

  test("charts: timeline with step markers, per-node bars, messages over time; each accessible", () => {
    const html = htmlReport(report(failingScenario()));
    const root = parsePage(html);
    const svgs = all(root).filter((e) => e.name === "svg");
    expect(svgs.map((s) => s.attrs["aria-labelledby"]!.split(" ")[0])).toEqual(["s1-sessions-t", "s1-routes-t", "s1-node-sessions-t", "s1-node-routes-t", "s1-messages-t"]);
    const ids = new Map<string, number>();
    for (const e of all(root)) if (e.attrs.id) ids.set(e.attrs.id, (ids.get(e.attrs.id) ?? 0) + 1);
    expect([...ids.values()].every((n) => n === 1)).toBe(true);
    for (const svg of svgs) {
      expect(svg.attrs.role).toBe("img");
      expect(svg.children[0]!.name).toBe("title");
      expect(svg.children[1]!.name).toBe("desc");
      for (const id of svg.attrs["aria-labelledby"]!.split(" ")) expect(ids.get(id)).toBe(1);
    }
    const timeline = svgs[0]!;
    // One marker per step (6) plus one triangle for the failed assertion.
    const markers = byClass(timeline, "mk");
    expect(markers).toHaveLength(7);
    expect(byClass(timeline, "mk-fail")).toHaveLength(1);
    expect(byClass(timeline, "mk-error")).toHaveLength(1);
    expect(byClass(timeline, "mk-assert")).toHaveLength(1);
    expect(all(byClass(timeline, "mk-fail")[0]!).find((e) => e.name === "title")!.text).toBe("step 4 fail at 2,000 ms: fail link node-3@seg-b");
    // Waits are shaded: the second step converged, the fifth timed out (steps count from 1 on the page).
    expect(byClass(timeline, "band").map((b) => [b.attrs.class, b.children[0]!.text])).toEqual([
      ["band band-wait", "step 2 wait converged (took 1,224.568 ms): converged (1,224.6 ms)"],
      ["band band-nowait", "step 5 wait converged: did not converge (2,000.1 ms)"],
    ]);
    // The sessions line drops from 6 to 4 at the failure: its path has two levels.
    const path = byClass(timeline, "ln-sessions").find((e) => e.name === "path")!;
    expect(new Set([...path.attrs.d!.matchAll(/V([\d.]+)/g)].map((m) => m[1])).size).toBe(2);
    // Bars: node-1 has 2 established sessions, node-2 has 1.
    const bars = all(svgs[2]!).filter((e) => e.name === "g").map((g) => g.children.find((c) => c.name === "title")!.text);
    expect(bars).toEqual(["node-1: 2", "node-2: 1"]);
    // Messages: the column totals add up to the last sample's running total.
    const cols = all(svgs[4]!).filter((e) => e.name === "rect").map((r) => Number(r.children[0]!.text.split(" ")[0]!.replace(/,/g, "")));
    const s = failingScenario();
    expect(cols.reduce((a, b) => a + b, 0)).toBe(s.samples[s.samples.length - 1]!.bgpMessages);
  });

  test("per-node small multiples over time when samples carry per-node figures", () => {
    const s = failingScenario();
    s.samples = s.samples.map((x) => ({ ...x, perNode: { "node-1": { sessions: 2, routes: x.t < 2000 ? 2 : 1 }, "node-2": { sessions: 1, routes: 1 } } }));
    const root = parsePage(htmlReport(report(s)));
    const multiples = all(root).filter((e) => e.name === "svg" && /^s1-node-\d+-t /.test(e.attrs["aria-labelledby"] ?? ""));
    expect(multiples.map((m) => m.children[0]!.text)).toEqual(["node-1: sessions and routes over time", "node-2: sessions and routes over time"]);
    // Shared scale: both charts have the same y ticks.
    const ticks = multiples.map((m) => byClass(m, "tick").map((e) => e.text).join(" "));
    expect(ticks[0]).toBe(ticks[1]);
    // node-1's routes fall from 2 to 1 at the failure: two levels in its routes line.
    const routes = byClass(multiples[0]!, "ln-routes").find((e) => e.name === "path")!;
    expect(new Set([...routes.attrs.d!.matchAll(/V([\d.]+)/g)].map((m) => m[1])).size).toBe(2);
    // Only failures, restores and step errors are marked in the small charts.
    expect(byClass(multiples[0]!, "mk").map((e) => e.attrs.class)).toEqual(["mk mk-fail", "mk mk-error"]);
    const many = failingScenario();
    const perNode = Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`n${i}`, { sessions: 1, routes: 1 }]));
    many.samples = many.samples.map((x) => ({ ...x, perNode }));
    const html = htmlReport(report(many));
    expect(html).toContain("Per-node charts over time are drawn for up to 12 nodes; this run has 13.");
    expect(html).not.toContain("s1-node-0-t");
  });

  test("probes traceroute style, drops in red with the reason", () => {
    const root = parsePage(htmlReport(report(failingScenario())));
    const hops = all(root).filter((e) => e.name === "ol" && e.attrs.class === "hops");
    expect(hops).toHaveLength(2);
    expect(hops[0]!.children.map(textOf)).toEqual([
      "node-1 egress policy allowed (no policy)",
      "node-1 route 10.1.2.0/26 via 192.168.1.2 (ipip, +20 bytes) → tunl0 (120 bytes)",
      "node-2 delivered to b/db-1",
    ]);
    const drop = hops[1]!.children[hops[1]!.children.length - 1]!;
    expect(drop.attrs.class).toBe("drop");
    expect(textOf(drop)).toBe("✕ dropped (no-route): dropped at router r1: no route to 10.1.3.0/26");
  });

  test("user text is escaped everywhere: no markup gets through, controls shown as \\uXXXX", () => {
    const html = htmlReport(report(nastyScenario()));
    expect(html).not.toContain("<script");
    expect(html).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    noExternalReferences(html);
    const root = parsePage(html);
    const h2 = all(root).find((e) => e.name === "h2")!;
    expect(textOf(h2)).toContain(NASTY.replace(/[\u0000-\u001f]|\ud800/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")));
  });

  test("an empty run and a scenario without samples, probes or steps", () => {
    const empty = htmlReport(report());
    parsePage(empty);
    expect(empty).toContain("The run had no scenarios.");
    const bare = { ...passingScenario(), samples: [], probes: [], steps: [], assertions: [], timeline: [], final: { ...passingScenario().final, sessions: [], routes: [] } };
    const html = htmlReport(report(bare));
    const root = parsePage(html);
    expect(all(root).filter((e) => e.name === "svg")).toHaveLength(0);
    for (const text of ["This scenario has no assertions.", "No samples were recorded for this run", "No steps ran.", "No sessions or routes were observed", "No probes were sent."]) expect(html).toContain(text);
  });

  test("markers are bounded however many steps ran, failures kept first; bad numbers draw nothing", () => {
    const s = failingScenario();
    s.steps = Array.from({ length: 5_000 }, (_, i) => ({ index: i, kind: i % 2 ? "restore" : "fail", description: `s${i}`, start: i, end: i, ...(i === 4_999 ? { error: "boom" } : {}) }));
    s.samples[3] = { ...s.samples[3]!, sessionsEstablished: Number.NaN };
    const html = htmlReport(report(s));
    expect(/NaN|Infinity/.exec(html)?.[0]).toBeUndefined();
    const root = parsePage(html);
    const timeline = all(root).find((e) => e.attrs["aria-labelledby"] === "s1-sessions-t s1-sessions-d")!;
    const marks = byClass(timeline, "mk").filter((e) => !e.attrs.class!.includes("mk-assert"));
    expect(marks).toHaveLength(HTML_LIMITS.markers);
    expect(marks.filter((e) => e.attrs.class === "mk mk-error")).toHaveLength(1);
    expect(marks.filter((e) => e.attrs.class === "mk mk-fail").length).toBe(HTML_LIMITS.markers - 1);
  });

  test("huge texts are cut in the page (report.json keeps them whole)", () => {
    const s = failingScenario();
    const huge = "x".repeat(1_000_000);
    s.assertions[2] = { ...s.assertions[2]!, name: huge, expected: huge, actual: huge, details: [huge] };
    s.probes[1] = { ...s.probes[1]!, name: huge };
    s.final.ipam.problems = [huge];
    const html = htmlReport(report(s));
    expect(html.length).toBeLessThan(200_000);
    expect(html).toContain("… (998,000 more characters)".replace(",", ""));
    parsePage(html);
  });

  test("a scenario run in both modes gets a side-by-side comparison, differences first", () => {
    const sim = passingScenario();
    const real = { ...passingScenario(), mode: "real" as const, passed: false };
    real.assertions = [real.assertions[0]!, { ...real.assertions[1]!, passed: false, actual: "dropped" }];
    real.probes = [{ ...real.probes[0]!, outcome: "dropped", dropKind: "policy", reason: "denied" }];
    const html = htmlReport(report(sim, real));
    const root = parsePage(html);
    const section = all(root).find((e) => e.attrs.id === "compare")!;
    expect(textOf(all(section).find((e) => e.name === "h3")!)).toBe("full mesh converges (real): 2 differences");
    const rows = all(section).filter((e) => e.name === "tr").slice(1).map((r) => [r.attrs.class, ...r.children.map(textOf)]);
    expect(rows.slice(0, 3)).toEqual([
      ["failed", "assertion: pod a/web-1 reaches b/db-1 on tcp/5432", "PASS: delivered", "FAIL: dropped"],
      ["failed", "probe: a/web-1 → b/db-1 tcp/5432", "delivered", "dropped (policy)"],
      ["", "assertion: all BGP sessions established", "PASS: 6 established", "PASS: 6 established"],
    ]);
    expect(all(root).filter((e) => e.name === "nav").flatMap((n) => all(n).filter((a) => a.name === "a").map((a) => a.attrs.href))).toEqual(["#s1", "#s2", "#compare"]);
    // Without a pair there is no comparison.
    expect(htmlReport(report(sim, failingScenario()))).not.toContain('id="compare"');
  });

  test("with more than three scenarios, passing ones start folded and failing ones open", () => {
    const root = parsePage(htmlReport(report(passingScenario(), failingScenario(), passingScenario(), passingScenario())));
    const bodies = all(root).filter((e) => e.name === "details" && e.attrs.class === "body");
    expect(bodies.map((b) => "open" in b.attrs)).toEqual([false, true, false, false]);
    const few = parsePage(htmlReport(report(passingScenario(), failingScenario())));
    expect(all(few).filter((e) => e.name === "details" && e.attrs.class === "body").every((b) => "open" in b.attrs)).toBe(true);
  });

  test("deterministic", () => {
    expect(htmlReport(report(passingScenario(), nastyScenario()))).toBe(htmlReport(report(passingScenario(), nastyScenario())));
  });

  test("10,000 nodes: histograms instead of bars, bounded tables and charts, under 1.5 MB", () => {
    const big = bigScenario();
    const html = htmlReport(report(big));
    expect(html.length).toBeLessThan(1_500_000);
    noExternalReferences(html);
    const root = parsePage(html);
    const svgs = all(root).filter((e) => e.name === "svg").map((s) => s.attrs["aria-labelledby"]!.split(" ")[0]);
    expect(svgs).toEqual(["s1-sessions-t", "s1-routes-t", "s1-hist-sessions-t", "s1-hist-routes-t", "s1-messages-t"]);
    // No per-node element anywhere in the charts: a histogram has at most 30 bins.
    for (const id of ["s1-hist-sessions", "s1-hist-routes"]) {
      const svg = all(root).find((e) => e.attrs["aria-labelledby"] === `${id}-t ${id}-d`)!;
      expect(all(svg).filter((e) => e.name === "rect").length).toBeLessThanOrEqual(30);
      const total = all(svg).filter((e) => e.name === "rect").reduce((k, r) => k + Number(r.children[0]!.text.split(" ")[0]!.replace(/,/g, "")), 0);
      expect(total).toBe(10_000);
    }
    // The time series are downsampled (12,001 samples → at most 4 points per bucket).
    const line = byClass(root, "ln-sessions").find((e) => e.name === "path")!;
    expect((line.attrs.d!.match(/H/g) ?? []).length).toBeLessThanOrEqual(HTML_LIMITS.seriesBuckets * 4);
    // Tables are cut with a note, and every failed assertion is still shown.
    const assertionRows = all(root).filter((e) => e.name === "tr" && (e.attrs.class === "passed" || e.attrs.class === "failed") && textOf(e).includes("has its routes"));
    expect(assertionRows).toHaveLength(HTML_LIMITS.assertions);
    expect(assertionRows.filter((r) => r.attrs.class === "failed")).toHaveLength(big.assertions.filter((a) => !a.passed).length);
    expect(html).toContain("Showing 500 of 5,000; report.json has them all. Every failed assertion is included.");
    expect(all(root).filter((e) => e.name === "ol" && e.attrs.class === "hops")).toHaveLength(HTML_LIMITS.probes);
  });

  test("expat agrees that the page is well-formed", () => {
    if (!requirePython()) return;
    expect(expatRoot(htmlReport(report(passingScenario(), failingScenario(), nastyScenario())))).toBe("html");
  });
});
