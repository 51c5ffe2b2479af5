import { afterAll, describe, expect, test } from "@jest/globals";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { htmlReport, junitXml, reportJson, writeJunit, writeReports, type ReportIO } from "../../src/report/index.ts";
import { failingScenario, passingScenario, report } from "./fixtures.ts";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "bc-report-test-"));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("writeReports", () => {
  test("writes report.json, junit.xml and report.html into a directory it creates", async () => {
    const r = report(passingScenario(), failingScenario());
    const dir = join(await tempDir(), "out", "run-1");
    const files = await writeReports(r, dir);
    expect(files).toEqual({ json: join(dir, "report.json"), junit: join(dir, "junit.xml"), html: join(dir, "report.html") });
    expect((await readdir(dir)).sort()).toEqual(["junit.xml", "report.html", "report.json"]);
    expect(await readFile(files.json, "utf8")).toBe(reportJson(r));
    expect(await readFile(files.junit, "utf8")).toBe(junitXml(r));
    expect(await readFile(files.html, "utf8")).toBe(htmlReport(r));
    // Written again over the old files: same bytes, no temporary files left behind.
    await writeReports(r, dir);
    expect((await readdir(dir)).sort()).toEqual(["junit.xml", "report.html", "report.json"]);
  });

  test("writeJunit creates the parent directory", async () => {
    const r = report(failingScenario());
    const file = join(await tempDir(), "ci", "results", "birdcage.xml");
    expect(await writeJunit(r, file)).toBe(file);
    expect(await readFile(file, "utf8")).toBe(junitXml(r));
  });

  test("the file operations can be redirected", async () => {
    const calls: string[] = [];
    const io: ReportIO = {
      mkdir: async (d) => void calls.push(`mkdir ${d}`),
      writeFile: async (p, data) => void calls.push(`write ${p} ${data.length}`),
    };
    const r = report(passingScenario());
    await writeReports(r, "/nowhere/x", io);
    expect(calls).toEqual([
      "mkdir /nowhere/x",
      `write /nowhere/x/report.json ${reportJson(r).length}`,
      `write /nowhere/x/junit.xml ${junitXml(r).length}`,
      `write /nowhere/x/report.html ${htmlReport(r).length}`,
    ]);
  });

  test("a directory that cannot be created is an error, not a silent no-op", async () => {
    const base = await tempDir();
    await writeJunit(report(), join(base, "file.xml"));
    await expect(writeReports(report(), join(base, "file.xml", "sub"))).rejects.toThrow(/ENOTDIR|EEXIST/);
  });
});
