// The chart sections of report.html: the convergence timeline (with per-node small multiples),
// sessions and routes per node, and BGP messages over time. Data is reduced in series.ts, drawn in svg.ts.
import type { ScenarioResult, StepResult } from "../scenario/result.ts";
import { compareStrings, formatMs, groupDigits, stepNumber, truncate } from "./format.ts";
import { HTML_LIMITS, note, plural, t } from "./html-common.ts";
import { downsample, histogram, messageColumns, perNodeCounts } from "./series.ts";
import { barChart, columnChart, timeChart, type Band, type Marker } from "./svg.ts";

/** Tooltips are for a glance; the tables below the charts have the full text. */
const TOOLTIP = 300;

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
      title: truncate(`step ${stepNumber(st.index)} ${st.kind} at ${formatMs(st.start)}: ${st.description}${conv}${st.error !== undefined ? ` — error: ${st.error}` : ""}`, TOOLTIP),
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
  for (const a of failedAssertions.slice(0, 200)) out.push({ t: a.at, label: "", title: truncate(`failed at ${formatMs(a.at)}: ${a.name} — expected ${a.expected}, got ${a.actual}`, TOOLTIP), cls: "assert" });
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
      title: truncate(`step ${stepNumber(st.index)} ${st.description}: ${st.convergence!.converged ? "converged" : "did not converge"} (${formatMs(st.convergence!.took)})`, TOOLTIP),
    }));
}

export function timelineSection(s: ScenarioResult, id: string): string {
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

export function nodesSection(s: ScenarioResult, id: string): string {
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

export function messagesSection(s: ScenarioResult, id: string): string {
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
