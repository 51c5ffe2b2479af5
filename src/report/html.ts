// report.html: one self-contained page (inline CSS and SVG, no script, no external reference) that
// tells the story of a run: verdict first, then per scenario the assertions, the convergence
// timeline, the steps, sessions and routes per node, BGP messages over time and probes hop by hop.
// Scenario data is user input: every piece of text goes through escapeText/escapeAttr. Tables and
// charts are bounded so that a 10,000-node run still gives a page a browser opens quickly.
import type { AssertionResult, RunReport, ScenarioResult, StepResult } from "../scenario/result.ts";
import { compareStrings, escapeAttr, escapeText, formatMs, groupDigits, stepNumber, truncate } from "./format.ts";
import { downsample, histogram, messageColumns, perNodeCounts } from "./series.ts";
import { REPORT_CSS } from "./style.ts";
import { barChart, columnChart, timeChart, type Band, type Marker } from "./svg.ts";

/** Row limits: report.json keeps everything, the page shows what a person can read. */
export const HTML_LIMITS = {
  assertions: 500,
  steps: 500,
  probes: 200,
  hops: 100,
  sessionsDown: 100,
  timeline: 300,
  ipamProblems: 100,
  /** Step markers on a time chart (more become short ticks; beyond this, failures and errors first). */
  markers: 500,
  /** Per-node small multiples over time, when the samples have per-node figures. */
  nodeTimeCharts: 12,
  /** Above this many nodes the per-node bars become histograms. */
  barNodes: 100,
  /** Time-series buckets (about four points each). */
  seriesBuckets: 400,
  /** Text longer than this in a table cell is cut (details keep more). */
  cell: 2000,
} as const;

const t = escapeText;



function badge(passed: boolean): string {
  return passed ? `<span class="badge pass">PASS</span>` : `<span class="badge fail">FAIL</span>`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${groupDigits(n)} ${n === 1 ? one : many}`;
}

/** Picks at most `limit` items, the important ones first, and returns them in their original order. */
function pick<T>(items: T[], limit: number, important: (x: T) => boolean): { shown: T[]; note: string } {
  if (items.length <= limit) return { shown: items, note: "" };
  const keep = new Set<number>();
  items.forEach((x, i) => keep.size < limit && important(x) && keep.add(i));
  for (let i = 0; i < items.length && keep.size < limit; i++) keep.add(i);
  const shown = items.filter((_, i) => keep.has(i));
  return { shown, note: `Showing ${groupDigits(shown.length)} of ${groupDigits(items.length)}; report.json has them all.` };
}

function note(text: string): string {
  return text ? `<p class="note">${t(text)}</p>` : "";
}

function table(caption: string, head: string[], rows: string[], numeric: number[] = []): string {
  const th = head.map((h, i) => `<th scope="col"${numeric.includes(i) ? ` class="num"` : ""}>${t(h)}</th>`).join("");
  return `<div class="tablewrap"><table><caption class="note">${t(caption)}</caption><thead><tr>${th}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}

function assertionRow(a: AssertionResult): string {
  const details = a.details?.length
    ? `<details${a.passed ? "" : ` open=""`}><summary>${t(plural(a.details.length, "detail line"))}</summary><pre>${t(truncate(a.details.join("\n"), HTML_LIMITS.cell * 5))}</pre></details>`
    : "";
  return (
    `<tr class="${a.passed ? "passed" : "failed"}"><td>${badge(a.passed)}</td>` +
    `<td>${t(truncate(a.name, HTML_LIMITS.cell))}${details}</td><td class="mono">${t(a.kind)}</td>` +
    `<td>${t(truncate(a.expected, HTML_LIMITS.cell))}</td><td>${t(truncate(a.actual, HTML_LIMITS.cell))}</td>` +
    `<td class="num">${t(formatMs(a.at))}</td><td class="mono">step ${t(stepNumber(a.step))}${a.source ? `<br/>${t(a.source)}` : ""}</td></tr>`
  );
}

function assertionsSection(s: ScenarioResult): string {
  const failed = s.assertions.filter((a) => !a.passed).length;
  const head = `<h3>Assertions: ${t(groupDigits(s.assertions.length - failed))} of ${t(groupDigits(s.assertions.length))} passed</h3>`;
  if (!s.assertions.length) return `${head}${note("This scenario has no assertions.")}`;
  const { shown, note: n } = pick(s.assertions, HTML_LIMITS.assertions, (a) => !a.passed);
  return (
    head +
    table("Assertions in the order they were checked", ["result", "assertion", "kind", "expected", "actual", "at", "where"], shown.map(assertionRow), [5]) +
    note(n ? `${n} Every failed assertion is included.` : "")
  );
}

function stepRow(st: StepResult): string {
  const conv = st.convergence ? (st.convergence.converged ? `converged in ${formatMs(st.convergence.took)}` : `did not converge (${formatMs(st.convergence.took)})`) : "";
  return (
    `<tr class="${st.error !== undefined || st.convergence?.converged === false ? "failed" : ""}"><td class="num">${t(stepNumber(st.index))}</td><td class="mono">${t(st.kind)}</td>` +
    `<td>${t(truncate(st.description, HTML_LIMITS.cell))}${st.error !== undefined ? `<br/><strong>error:</strong> ${t(truncate(st.error, HTML_LIMITS.cell))}` : ""}</td>` +
    `<td class="num">${t(formatMs(st.start))}</td><td class="num">${t(formatMs(st.end - st.start))}</td><td>${t(conv)}</td></tr>`
  );
}

function stepsSection(s: ScenarioResult): string {
  if (!s.steps.length) return `<h3>Steps</h3>${note("No steps ran.")}`;
  const { shown, note: n } = pick(s.steps, HTML_LIMITS.steps, (st) => st.error !== undefined || !!st.convergence);
  return `<h3>Steps</h3>` + table("Steps with their scenario times", ["#", "kind", "description", "start", "took", "convergence"], shown.map(stepRow), [0, 3, 4]) + note(n);
}

function markerClass(st: StepResult): string {
  if (st.error !== undefined) return "error";
  if (st.kind === "fail" || st.kind === "restore" || st.kind === "wait") return st.kind;
  return "step";
}

function markers(s: ScenarioResult): Marker[] {
  const many = s.steps.length > 60;
  const out: Marker[] = [];
  for (const st of s.steps) {
    const cls = markerClass(st);
    if (many && cls === "step") continue;
    const conv = st.convergence ? ` — ${st.convergence.converged ? "converged" : "did not converge"} after ${formatMs(st.convergence.took)}` : "";
    out.push({
      t: cls === "wait" ? st.end : st.start,
      label: String(stepNumber(st.index)),
      title: `step ${stepNumber(st.index)} ${st.kind} at ${formatMs(st.start)}: ${st.description}${conv}${st.error !== undefined ? ` — error: ${st.error}` : ""}`,
      cls,
    });
  }
  // Hundreds of thousands of steps must not mean as many SVG elements: keep step errors, then
  // failures, restores and waits (indexOf -1 >>> 0 ranks everything else last).
  if (out.length > HTML_LIMITS.markers) {
    const rank = (m: Marker): number => ["error", "fail", "restore", "wait"].indexOf(m.cls) >>> 0;
    const keep = new Set(out.map((m, i) => ({ r: rank(m), i })).sort((a, b) => a.r - b.r || a.i - b.i).slice(0, HTML_LIMITS.markers).map((x) => x.i));
    out.splice(0, out.length, ...out.filter((_, i) => keep.has(i)));
  }
  const failedAssertions = s.assertions.filter((a) => !a.passed);
  for (const a of failedAssertions.slice(0, 200)) out.push({ t: a.at, label: "", title: `failed at ${formatMs(a.at)}: ${a.name} — expected ${a.expected}, got ${a.actual}`, cls: "assert" });
  return out;
}

/** Wait steps as shaded spans: how long each wait took, red when it timed out. At most 200. */
function bands(s: ScenarioResult): Band[] {
  return s.steps
    .filter((st) => st.convergence && st.end > st.start)
    .slice(0, 200)
    .map((st) => ({
      t0: st.start,
      t1: st.end,
      cls: st.convergence!.converged ? "wait" : "nowait",
      title: `step ${stepNumber(st.index)} ${st.description}: ${st.convergence!.converged ? "converged" : "did not converge"} (${formatMs(st.convergence!.took)})`,
    }));
}

function timelineSection(s: ScenarioResult, id: string): string {
  const head = `<h3>Convergence timeline</h3>`;
  if (!s.samples.length) return head + note("No samples were recorded for this run, so there is no timeline chart.");
  const xMax = Math.max(s.duration, s.samples[s.samples.length - 1]!.t);
  const mk = markers(s);
  const waits = bands(s);
  const sessions = downsample(s.samples.map((x) => [x.t, x.sessionsEstablished] as [number, number]), HTML_LIMITS.seriesBuckets, xMax);
  const routes = downsample(s.samples.map((x) => [x.t, x.routes] as [number, number]), HTML_LIMITS.seriesBuckets, xMax);
  const last = s.samples[s.samples.length - 1]!;
  const peak = (points: [number, number][]): number => points.reduce((m, p) => (p[1] > m ? p[1] : m), 0);
  const peakSessions = peak(sessions);
  const peakRoutes = peak(routes);
  const legendText =
    "Vertical lines are steps (numbered as in the step list): red a failure or a step error, green a restore, blue the end of a wait; shaded spans are waits (red: did not converge); red triangles are failed assertions.";
  const chart1 = timeChart({
    id: `${id}-sessions`,
    title: "BGP sessions established over time",
    desc: `${plural(s.samples.length, "sample")} over ${formatMs(xMax)}; peak ${groupDigits(peakSessions)}, at the end ${groupDigits(last.sessionsEstablished)}. ${legendText}`,
    xMax,
    series: [{ label: "sessions established", cls: "sessions", points: sessions }],
    markers: mk,
    bands: waits,
    yLabel: "sessions",
  });
  const chart2 = timeChart({
    id: `${id}-routes`,
    title: "Routes over time",
    desc: `Routes installed across all nodes; peak ${groupDigits(peakRoutes)}, at the end ${groupDigits(last.routes)}. ${legendText}`,
    xMax,
    series: [{ label: "routes (all nodes)", cls: "routes", points: routes }],
    markers: mk,
    bands: waits,
    yLabel: "routes",
  });
  return `${head}<figure>${chart1}${chart2}<figcaption>${t(legendText)}</figcaption></figure>${perNodeTimeCharts(s, id, xMax, waits)}`;
}

/**
 * Small multiples, one chart per node: its established sessions and routes over time, on one shared
 * scale, when the samples carry per-node figures (the runner records them for small topologies).
 */
function perNodeTimeCharts(s: ScenarioResult, id: string, xMax: number, waits: Band[]): string {
  const withNodes = s.samples.filter((x) => x.perNode !== undefined);
  if (!withNodes.length) return "";
  const names = [...new Set(withNodes.flatMap((x) => Object.keys(x.perNode!)))].sort(compareStrings);
  if (names.length > HTML_LIMITS.nodeTimeCharts) return note(`Per-node charts over time are drawn for up to ${HTML_LIMITS.nodeTimeCharts} nodes; this run has ${groupDigits(names.length)}.`);
  let yMax = 1;
  for (const x of withNodes) for (const v of Object.values(x.perNode!)) yMax = Math.max(yMax, v.routes, v.sessions);
  const mk = markers(s).filter((m) => m.cls === "fail" || m.cls === "restore" || m.cls === "error").map((m) => ({ ...m, label: "" }));
  const charts = names.map((node, k) => {
    const series = (key: "sessions" | "routes"): [number, number][] =>
      downsample(withNodes.map((x) => [x.t, x.perNode![node]?.[key] ?? 0] as [number, number]), HTML_LIMITS.seriesBuckets / 4, xMax);
    const last = withNodes[withNodes.length - 1]!.perNode![node];
    return timeChart({
      id: `${id}-node-${k}`,
      title: `${node}: sessions and routes over time`,
      desc: `Established sessions (blue) and routes (orange) of ${node}; at the end ${groupDigits(last?.sessions ?? 0)} sessions and ${groupDigits(last?.routes ?? 0)} routes.`,
      xMax,
      yMax,
      heading: node,
      series: [
        { label: "sessions", cls: "sessions", points: series("sessions") },
        { label: "routes", cls: "routes", points: series("routes") },
      ],
      markers: mk,
      bands: waits,
      yLabel: "",
      width: 360,
      height: 150,
    });
  });
  return (
    `<h3>Per node over time</h3>${note("Established sessions (blue) and routes (orange) of each node on one scale; red and green lines are failures and restores, shaded spans are waits.")}` +
    `<div class="charts">${charts.map((c) => `<figure>${c}</figure>`).join("")}</div>`
  );
}

function nodesSection(s: ScenarioResult, id: string): string {
  const head = `<h3>Sessions and routes per node</h3>`;
  const counts = perNodeCounts(s);
  if (!counts.length) return head + note("No sessions or routes were observed at the end of the run.");
  if (counts.length <= HTML_LIMITS.barNodes) {
    const sessions = barChart({
      id: `${id}-node-sessions`,
      title: "Established sessions per node",
      desc: `Established BGP sessions of each of ${plural(counts.length, "node")} at the end of the run.`,
      bars: counts.map((c) => ({ label: c.node, value: c.sessions })),
      cls: "sessions",
    });
    const routes = barChart({
      id: `${id}-node-routes`,
      title: "Routes per node",
      desc: `Routes in the table of each of ${plural(counts.length, "node")} at the end of the run.`,
      bars: counts.map((c) => ({ label: c.node, value: c.routes })),
      cls: "routes",
    });
    return `${head}<div class="charts"><figure>${sessions}<figcaption>established sessions</figcaption></figure><figure>${routes}<figcaption>routes</figcaption></figure></div>`;
  }
  const stats = (vals: number[]): string => {
    const sorted = [...vals].sort((a, b) => a - b);
    return `min ${groupDigits(sorted[0] ?? 0)}, median ${groupDigits(sorted[Math.floor(sorted.length / 2)] ?? 0)}, max ${groupDigits(sorted[sorted.length - 1] ?? 0)}`;
  };
  const sv = counts.map((c) => c.sessions);
  const rv = counts.map((c) => c.routes);
  const top = (key: "sessions" | "routes"): string =>
    [...counts]
      .sort((a, b) => b[key] - a[key])
      .slice(0, 5)
      .map((c) => `${c.node} (${groupDigits(c[key])})`)
      .join(", ");
  const h1 = columnChart({
    id: `${id}-hist-sessions`,
    title: "Nodes by number of established sessions",
    desc: `Histogram over ${plural(counts.length, "node")}: ${stats(sv)}.`,
    columns: histogram(sv, "established sessions"),
    cls: "sessions",
    xLabel: "established sessions per node",
    yLabel: "nodes",
    width: 540,
  });
  const h2 = columnChart({
    id: `${id}-hist-routes`,
    title: "Nodes by number of routes",
    desc: `Histogram over ${plural(counts.length, "node")}: ${stats(rv)}.`,
    columns: histogram(rv, "routes"),
    cls: "routes",
    xLabel: "routes per node",
    yLabel: "nodes",
    width: 540,
  });
  return (
    `${head}${note(`${plural(counts.length, "node")}: drawn as histograms (more than ${HTML_LIMITS.barNodes} nodes).`)}` +
    `<div class="charts"><figure>${h1}<figcaption>${t(`sessions per node: ${stats(sv)}; most: ${top("sessions")}`)}</figcaption></figure>` +
    `<figure>${h2}<figcaption>${t(`routes per node: ${stats(rv)}; most: ${top("routes")}`)}</figcaption></figure></div>`
  );
}

function messagesSection(s: ScenarioResult, id: string): string {
  const c = s.final.counters;
  const m = c.bgpMessages;
  const summary = `${plural(m.total, "BGP message")} in total: ${groupDigits(m.open)} OPEN, ${groupDigits(m.update)} UPDATE, ${groupDigits(m.keepalive)} KEEPALIVE, ${groupDigits(m.notification)} NOTIFICATION, ${groupDigits(m.routeRefresh)} ROUTE-REFRESH; ${groupDigits(c.bgpBytes)} bytes${c.events !== undefined ? `; ${groupDigits(c.events)} simulator events` : ""}.`;
  const head = `<h3>BGP messages over time</h3>${note(summary)}`;
  const { columns, width } = messageColumns(s.samples, s.duration);
  if (!columns.length) return head + note("No samples were recorded, so there is no chart over time.");
  const peak = columns.reduce((best, col) => (col.value > best.value ? col : best), columns[0]!);
  const chart = columnChart({
    id: `${id}-messages`,
    title: `BGP messages per ${formatMs(width)}`,
    desc: `BGP messages sent by all speakers in intervals of ${formatMs(width)}; busiest interval: ${peak.title}.`,
    columns,
    cls: "messages",
    xLabel: "scenario time",
    yLabel: `messages per ${formatMs(width)}`,
    time: true,
    xMax: s.duration,
  });
  return `${head}<figure>${chart}</figure>`;
}

function probesSection(s: ScenarioResult): string {
  const head = `<h3>Probes</h3>`;
  if (!s.probes.length) return head + note("No probes were sent.");
  const dropped = s.probes.filter((p) => p.outcome === "dropped").length;
  const { shown, note: n } = pick(s.probes, HTML_LIMITS.probes, (p) => p.outcome === "dropped");
  const items = shown.map((p) => {
    const hops = p.hops.slice(0, HTML_LIMITS.hops).map(
      (h) =>
        `<li><span class="at">${t(h.at)}</span> ${t(truncate(h.action, HTML_LIMITS.cell))}${h.out !== undefined ? ` <span class="muted">→ ${t(h.out)}</span>` : ""}${h.size !== undefined ? ` <span class="muted">(${t(groupDigits(h.size))} bytes)</span>` : ""}</li>`,
    );
    if (p.hops.length > HTML_LIMITS.hops) hops.push(`<li class="muted">${t(`${groupDigits(p.hops.length - HTML_LIMITS.hops)} more hops not shown`)}</li>`);
    if (p.outcome === "dropped") hops.push(`<li class="drop">✕ dropped${p.dropKind ? ` (${t(p.dropKind)})` : ""}: ${t(p.reason ?? "no reason given")}</li>`);
    const facts = [`at ${formatMs(p.at)}`, p.encap !== "none" ? `encap ${p.encap}` : "", p.pathMtu !== undefined ? `path MTU ${groupDigits(p.pathMtu)}` : "", plural(p.hops.length, "hop")].filter(Boolean).join(" · ");
    return (
      `<details${p.outcome === "dropped" ? ` open=""` : ""}><summary><span class="outcome-${escapeAttr(p.outcome)}">${t(p.outcome)}</span> ${t(p.name)} <span class="muted">${t(facts)}</span></summary>` +
      `<ol class="hops" aria-label="${escapeAttr(`hops of probe ${p.name}`)}">${hops.join("")}</ol></details>`
    );
  });
  return `${head}${note(`${plural(s.probes.length, "probe")}, ${groupDigits(dropped)} dropped.`)}${items.join("")}${note(n)}`;
}

function finalStateSection(s: ScenarioResult): string {
  const sessions = s.final.sessions;
  const up = sessions.filter((x) => x.state === "Established").length;
  const down = sessions.filter((x) => x.state !== "Established");
  const ipam = s.final.ipam;
  let out = `<h3>Final state</h3><dl class="meta"><dt>BGP sessions</dt><dd>${t(`${groupDigits(up)} of ${groupDigits(sessions.length)} established`)}</dd>`;
  out += `<dt>routes</dt><dd>${t(groupDigits(s.final.routes.length))}</dd>`;
  out += `<dt>IPAM</dt><dd>${t(`${plural(ipam.blocks.length, "block")}, ${plural(ipam.inUse, "address", "addresses")} in use, ${plural(ipam.problems.length, "problem")}`)}</dd></dl>`;
  if (down.length) {
    const rows = down
      .slice(0, HTML_LIMITS.sessionsDown)
      .map((x) => `<tr><td>${t(x.node)}</td><td class="mono">${t(x.peer)}${x.peerName ? ` (${t(x.peerName)})` : ""}</td><td>${t(x.type)}</td><td>${t(x.state)}</td></tr>`);
    out += table("Sessions that are not established", ["node", "peer", "type", "state"], rows);
    if (down.length > HTML_LIMITS.sessionsDown) out += note(`Showing ${HTML_LIMITS.sessionsDown} of ${groupDigits(down.length)}; report.json has them all.`);
  }
  if (ipam.problems.length) {
    out += `<p><strong>IPAM problems</strong></p><ul>${ipam.problems.slice(0, HTML_LIMITS.ipamProblems).map((p) => `<li>${t(p)}</li>`).join("")}</ul>`;
    if (ipam.problems.length > HTML_LIMITS.ipamProblems) out += note(`Showing ${HTML_LIMITS.ipamProblems} of ${groupDigits(ipam.problems.length)}.`);
  }
  return out;
}

function eventsSection(s: ScenarioResult): string {
  if (!s.timeline.length) return "";
  const { shown, note: n } = pick(s.timeline, HTML_LIMITS.timeline, (e) => e.kind === "failure" || e.kind === "restore" || e.kind === "step");
  const rows = shown.map((e) => `<tr><td class="num">${t(formatMs(e.t))}</td><td>${t(e.node ?? "")}</td><td class="mono">${t(e.kind)}</td><td>${t(truncate(e.text, HTML_LIMITS.cell))}</td></tr>`);
  return `<details><summary><strong>Event log</strong> (${t(plural(s.timeline.length, "event"))})</summary>${table("Timeline events", ["time", "node", "kind", "event"], rows, [0])}${note(n)}</details>`;
}

function scenarioSection(s: ScenarioResult, i: number): string {
  const id = `s${i + 1}`;
  const topo = s.topology;
  const meta: [string, string][] = [
    ["scenario file", s.scenario.file],
    ["topology", `${topo.name} (${topo.file}): ${plural(topo.nodes, "node")}, ${plural(topo.routers, "router")}, ${plural(topo.segments, "segment")}`],
    ["mode", s.mode === "sim" ? "simulation" : "real (network namespaces)"],
    ["seed", String(s.seed)],
    ["duration", `${formatMs(s.duration)} scenario time`],
  ];
  return (
    `<section class="scenario${s.passed ? "" : " failed"}" id="${id}" aria-labelledby="${id}-h"><h2 id="${id}-h">${badge(s.passed)} ${t(s.scenario.name)}</h2>` +
    (s.scenario.description ? `<p>${t(s.scenario.description)}</p>` : "") +
    `<dl class="meta">${meta.map(([k, v]) => `<dt>${t(k)}</dt><dd>${t(v)}</dd>`).join("")}</dl>` +
    assertionsSection(s) +
    timelineSection(s, id) +
    stepsSection(s) +
    nodesSection(s, id) +
    messagesSection(s, id) +
    probesSection(s) +
    finalStateSection(s) +
    eventsSection(s) +
    `</section>`
  );
}

/** The whole report as one HTML page. */
export function htmlReport(report: RunReport): string {
  const n = report.scenarios.length;
  const failedScenarios = report.scenarios.filter((s) => !s.passed).length;
  const assertions = report.scenarios.reduce((k, s) => k + s.assertions.length, 0);
  const failedAssertions = report.scenarios.reduce((k, s) => k + s.assertions.filter((a) => !a.passed).length, 0);
  const verdict = report.passed ? "PASSED" : "FAILED";
  const summary = `${plural(n, "scenario")}: ${groupDigits(n - failedScenarios)} passed, ${groupDigits(failedScenarios)} failed · ${plural(assertions, "assertion")}: ${groupDigits(assertions - failedAssertions)} passed, ${groupDigits(failedAssertions)} failed`;
  const nav = report.scenarios
    .map((s, i) => `<li>${badge(s.passed)} <a href="#s${i + 1}">${t(s.scenario.name)}</a> <span class="muted">${t(`${s.scenario.file} · ${s.mode} · seed ${s.seed} · ${formatMs(s.duration)}`)}</span></li>`)
    .join("");
  return [
    "<!DOCTYPE html>",
    `<html lang="en">`,
    "<head>",
    `<meta charset="utf-8"/>`,
    `<meta name="viewport" content="width=device-width, initial-scale=1"/>`,
    // Nothing may load from anywhere: the page is data only.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"/>`,
    `<meta name="color-scheme" content="light dark"/>`,
    `<meta name="generator" content="${escapeAttr(`birdcage ${report.birdcage}`)}"/>`,
    `<title>${t(`birdcage report: ${verdict} — ${summary}`)}</title>`,
    `<style>${REPORT_CSS}</style>`,
    "</head>",
    "<body>",
    `<header><h1>birdcage run <span class="badge ${report.passed ? "pass" : "fail"}" role="status">${verdict}</span></h1>`,
    `<p>${t(summary)}</p>`,
    n ? `<nav aria-label="Scenarios"><ul>${nav}</ul></nav>` : `<p class="note">The run had no scenarios.</p>`,
    "</header>",
    "<main>",
    ...report.scenarios.map(scenarioSection),
    "</main>",
    `<footer>${t(`Generated by birdcage ${report.birdcage}. Times are scenario time: virtual in the simulator, since the start of the run in real mode. The complete data is in report.json.`)}</footer>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
