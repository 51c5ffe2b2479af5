import { describe, expect, test } from "@jest/globals";
import { escapeAttr, escapeText, formatMs, groupDigits, round3, seconds, truncate, visibleControls } from "../../src/report/format.ts";
import { downsample, histogram, messageColumns, niceCeil, perNodeCounts } from "../../src/report/series.ts";
import { barChart, columnChart, niceTicks, timeChart } from "../../src/report/svg.ts";
import type { Sample } from "../../src/scenario/result.ts";
import { rng } from "../helpers/rng.ts";
import { failingScenario } from "./fixtures.ts";
import { parseXml, walk } from "./xml-check.ts";

describe("format", () => {
  test("numbers for people, independent of the locale", () => {
    expect(groupDigits(1234567.5, 1)).toBe("1,234,567.5");
    expect(groupDigits(1000.0, 2)).toBe("1,000");
    expect(groupDigits(-0.0001, 2)).toBe("0");
    expect(groupDigits(-1234)).toBe("-1,234");
    expect(formatMs(850)).toBe("850 ms");
    expect(formatMs(1234.56)).toBe("1,234.6 ms");
    expect(formatMs(0.1234)).toBe("0.123 ms");
    expect(formatMs(12_345)).toBe("12.35 s");
    expect(formatMs(243_200)).toBe("4 min 3.2 s");
    expect(seconds(1234.5678)).toBe("1.235");
    expect(seconds(-5)).toBe("0.000");
    expect(seconds(Number.NaN)).toBe("0.000");
    expect(round3(1.23456)).toBe(1.235);
    expect(Object.is(round3(-0.0001), 0)).toBe(true);
  });

  test("truncation says how much was cut and never splits a surrogate pair", () => {
    expect(truncate("abcdef", 4)).toBe("abcd… (2 more characters)");
    expect(truncate("abc", 4)).toBe("abc");
    expect(truncate("ab\ud83d\ude00cd", 3)).toBe("ab… (4 more characters)");
  });

  test("escaping", () => {
    expect(escapeText(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    expect(escapeAttr("a\nb\tc\rd")).toBe("a&#10;b&#9;c&#13;d");
    expect(visibleControls("a\u0000b\u001bc\ud800d\ud83d\ude00e\tf\n")).toBe("a\\u0000b\\u001bc\\ud800d\ud83d\ude00e\tf\n");
  });
});

describe("series", () => {
  test("per-node counts: established sessions and routes, sorted by node", () => {
    expect(perNodeCounts(failingScenario())).toEqual([
      { node: "node-1", sessions: 2, routes: 2 },
      { node: "node-2", sessions: 1, routes: 1 },
    ]);
  });

  test("histogram: one bin per value for small ranges, at most 30 equal bins otherwise, nothing lost", () => {
    expect(histogram([2, 2, 3, 5], "x").map((c) => [c.label, c.value])).toEqual([["2", 2], ["3", 1], ["4", 0], ["5", 1]]);
    const values = Array.from({ length: 1000 }, (_, i) => (i * 37) % 901);
    const bins = histogram(values, "routes");
    expect(bins.length).toBeLessThanOrEqual(30);
    expect(bins.reduce((k, b) => k + b.value, 0)).toBe(1000);
    expect(bins[0]!.label).toBe("0–30");
    expect(histogram([], "x")).toEqual([]);
  });

  test("downsampling keeps spikes and ends, and bounds the size", () => {
    const points: [number, number][] = Array.from({ length: 10_000 }, (_, i) => [i, i === 5_001 ? 999 : i === 7_000 ? -5 : 1]);
    const out = downsample(points, 100, 10_000);
    expect(out.length).toBeLessThanOrEqual(400);
    expect(out).toContainEqual([5_001, 999]);
    expect(out).toContainEqual([7_000, -5]);
    expect(out[0]).toEqual([0, 1]);
    expect(out[out.length - 1]).toEqual([9_999, 1]);
    for (let i = 1; i < out.length; i++) expect(out[i]![0]).toBeGreaterThan(out[i - 1]![0]);
    const few: [number, number][] = [[0, 1], [5, 2]];
    expect(downsample(few, 100, 10)).toBe(few);
  });

  test("messages per interval from the running total; a counter reset counts as zero", () => {
    const samples: Sample[] = [0, 100, 200, 300, 400].map((t, i) => ({ t, sessionsEstablished: 0, routes: 0, bgpMessages: [0, 10, 30, 5, 15][i]! }));
    const { columns, width } = messageColumns(samples, 400);
    expect(width).toBe(100);
    expect(columns.map((c) => c.value)).toEqual([10, 20, 0, 10]);
    expect(columns[1]!.title).toBe("20 BGP messages from 100 ms to 200 ms");
    expect(messageColumns([], 100).columns).toEqual([]);
  });

  test("nice numbers and ticks", () => {
    expect([0.3, 1, 3, 7, 12, 4500].map(niceCeil)).toEqual([0.5, 1, 5, 10, 20, 5000]);
    expect(niceTicks(10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(20_001, 4)).toEqual([0, 10_000, 20_000, 30_000]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});

describe("svg charts", () => {
  test("time chart: a step line and markers, well-formed and labelled", () => {
    const svg = timeChart({
      id: "c",
      title: "T <1>",
      desc: "D & d",
      xMax: 1000,
      series: [{ label: "s", cls: "sessions", points: [[0, 0], [500, 10]] }],
      markers: [{ t: 250, label: "3", title: "step 3", cls: "fail" }],
      yLabel: "y",
    });
    const root = parseXml(svg);
    expect(root.children.slice(0, 2).map((c) => [c.name, c.text])).toEqual([["title", "T <1>"], ["desc", "D & d"]]);
    const path = [...walk(root)].find((e) => e.name === "path" && e.attrs.class === "ln ln-sessions")!;
    // From (0,0) hold until 500, step up to 10, hold to the end: x from 60 to 744 over 1000 ms.
    expect(path.attrs.d).toBe("M60 200H402V34H744");
    const marker = [...walk(root)].find((e) => e.attrs.class === "mk mk-fail")!;
    expect(marker.children.find((c) => c.name === "line")!.attrs.x1).toBe("231");
  });

  test("labels of markers at the same time merge instead of overprinting", () => {
    const markers = [1, 2].map((i) => ({ t: 500, label: String(i), title: `step ${i}`, cls: "step" }));
    const root = parseXml(timeChart({ id: "c", title: "t", desc: "d", xMax: 1000, series: [], markers, yLabel: "y" }));
    expect([...walk(root)].filter((e) => e.attrs.class === "mklabel").map((e) => e.text)).toEqual(["1,2"]);
    expect([...walk(root)].filter((e) => e.attrs.class === "mk mk-step")).toHaveLength(2);
  });

  test("marker labels never overprint, also at the edges of the plot, and every step keeps a label", () => {
    const r = rng(11);
    for (let round = 0; round < 20; round++) {
      // Steps in time order (as a run has them), some at the very start and end.
      const times = [0, ...Array.from({ length: 30 }, () => Math.floor(r() * 1000)), 1000].sort((a, b) => a - b);
      const markers = times.map((t, i) => ({ t, label: String(i + 1), title: "", cls: "step" }));
      const root = parseXml(timeChart({ id: "c", title: "t", desc: "d", xMax: 1000, series: [], markers, yLabel: "y" }));
      const texts = [...walk(root)].filter((e) => e.attrs.class === "mklabel");
      const boxes = texts
        .map((e) => {
          const x = Number(e.attrs.x);
          const wd = e.text.length * 6;
          return e.attrs["text-anchor"] === "start" ? [x, x + wd] : e.attrs["text-anchor"] === "end" ? [x - wd, x] : [x - wd / 2, x + wd / 2];
        })
        .sort((a, b) => a[0]! - b[0]!);
      for (let i = 1; i < boxes.length; i++) expect(boxes[i]![0]!).toBeGreaterThanOrEqual(boxes[i - 1]![1]! + 4);
      const named = texts.flatMap((e) => {
        const m = /^(\d+)–(\d+)$/.exec(e.text);
        return m ? Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, k) => Number(m[1]) + k) : e.text.split(",").map(Number);
      });
      expect(named).toEqual(markers.map((_, i) => i + 1));
    }
  });

  test("more than 60 markers become short ticks above the plot, unlabelled", () => {
    const markers = Array.from({ length: 61 }, (_, i) => ({ t: i, label: String(i), title: `m${i}`, cls: "fail" }));
    const root = parseXml(timeChart({ id: "c", title: "t", desc: "d", xMax: 100, series: [], markers, yLabel: "y" }));
    const lines = [...walk(root)].filter((e) => e.name === "line" && e.attrs.y1 === "22");
    expect(lines).toHaveLength(61);
    expect([...walk(root)].filter((e) => e.attrs.class === "mklabel")).toHaveLength(0);
  });

  test("bars and columns scale to the largest value", () => {
    const bars = parseXml(barChart({ id: "b", title: "t", desc: "d", cls: "routes", bars: [{ label: "a", value: 10 }, { label: "b", value: 5 }] }));
    const widths = [...walk(bars)].filter((e) => e.name === "rect").map((r) => Number(r.attrs.width));
    expect(widths).toEqual([210, 105]);
    const cols = parseXml(columnChart({ id: "c", title: "t", desc: "d", cls: "messages", xLabel: "x", yLabel: "y", columns: [{ x0: 0, x1: 1, value: 4, title: "a", label: "0" }, { x0: 1, x1: 2, value: 0, title: "b", label: "1" }] }));
    expect([...walk(cols)].filter((e) => e.name === "rect")).toHaveLength(1);
  });
});
