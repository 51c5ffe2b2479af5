// report.html: one self-contained page (inline CSS and SVG, no script, no external reference) that
// tells the story of a run: verdict first, then per scenario the assertions, the convergence
// timeline, the steps, sessions and routes per node, BGP messages over time and probes hop by hop.
// Scenario data is user input: every piece of text goes through escapeText/escapeAttr. Tables and
// charts are bounded (HTML_LIMITS) so that a 10,000-node run still gives a page a browser opens quickly.
import type { AssertionResult, RunReport, ScenarioResult, StepResult } from "../scenario/result.ts";
import { escapeAttr, formatMs, groupDigits, stepNumber, truncate } from "./format.ts";
import { messagesSection, nodesSection, timelineSection } from "./html-charts.ts";
import { comparisonSection, modePairs } from "./html-compare.ts";
import { comparisonCounts } from "./sim-vs-real.ts";
import { HTML_LIMITS, badge, note, pick, plural, t, table } from "./html-common.ts";
import { REPORT_CSS } from "./style.ts";

export { HTML_LIMITS } from "./html-common.ts";

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
      `<details${p.outcome === "dropped" ? ` open=""` : ""}><summary><span class="outcome-${escapeAttr(p.outcome)}">${t(p.outcome)}</span> ${t(truncate(p.name, HTML_LIMITS.cell))} <span class="muted">${t(facts)}</span></summary>` +
      `<ol class="hops" aria-label="${escapeAttr(`hops of probe ${truncate(p.name, 200)}`)}">${hops.join("")}</ol></details>`
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
    out += `<p><strong>IPAM problems</strong></p><ul>${ipam.problems.slice(0, HTML_LIMITS.ipamProblems).map((p) => `<li>${t(truncate(p, HTML_LIMITS.cell))}</li>`).join("")}</ul>`;
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

/** With more scenarios than this, the details of passing ones start folded so failures stand out. */
const FOLD_PASSING_ABOVE = 3;

function scenarioSection(s: ScenarioResult, i: number, fold: boolean): string {
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
    `<details class="body"${fold ? "" : ` open=""`}><summary>${t(`assertions, charts, steps and probes (${plural(s.assertions.length, "assertion")}, ${plural(s.steps.length, "step")})`)}</summary>` +
    assertionsSection(s) +
    timelineSection(s, id) +
    stepsSection(s) +
    nodesSection(s, id) +
    messagesSection(s, id) +
    probesSection(s) +
    finalStateSection(s) +
    eventsSection(s) +
    `</details></section>`
  );
}

function compareLink(report: RunReport): string {
  const comparisons = report.comparisons ?? [];
  if (comparisons.length) return `<li>${badge(comparisons.every((c) => c.passed))} <a href="#compare">Sim versus real</a></li>`;
  return modePairs(report.scenarios).length ? `<li><a href="#compare">Sim versus real</a></li>` : "";
}

/** The whole report as one HTML page. */
export function htmlReport(report: RunReport): string {
  const n = report.scenarios.length;
  const failedScenarios = report.scenarios.filter((s) => !s.passed).length;
  const assertions = report.scenarios.reduce((k, s) => k + s.assertions.length, 0);
  const failedAssertions = report.scenarios.reduce((k, s) => k + s.assertions.filter((a) => !a.passed).length, 0);
  const verdict = report.passed ? "PASSED" : "FAILED";
  let summary = `${plural(n, "scenario")}: ${groupDigits(n - failedScenarios)} passed, ${groupDigits(failedScenarios)} failed · ${plural(assertions, "assertion")}: ${groupDigits(assertions - failedAssertions)} passed, ${groupDigits(failedAssertions)} failed`;
  // A run can fail on sim/real differences alone, with every scenario green: say so up front.
  const comparisons = report.comparisons ?? [];
  if (comparisons.length) {
    const c = comparisons.map(comparisonCounts).reduce((a, b) => ({ DIFF: a.DIFF + b.DIFF, KNOWN: a.KNOWN + b.KNOWN, STALE: a.STALE + b.STALE }));
    summary += ` · sim versus real: ${groupDigits(c.DIFF)} DIFF, ${groupDigits(c.KNOWN)} KNOWN, ${groupDigits(c.STALE)} STALE`;
  }
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
    n
      ? `<nav aria-label="Scenarios"><ul>${nav}${compareLink(report)}</ul></nav>`
      : `<p class="note">The run had no scenarios.</p>`,
    "</header>",
    "<main>",
    comparisonSection(report),
    ...report.scenarios.map((s, i) => scenarioSection(s, i, s.passed && n > FOLD_PASSING_ABOVE)),
    "</main>",
    `<footer>${t(`Generated by birdcage ${report.birdcage}. Times are scenario time: virtual in the simulator, since the start of the run in real mode. The complete data is in report.json.`)}</footer>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
