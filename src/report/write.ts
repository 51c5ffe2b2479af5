// Writes the reports to disk: the only module of src/report that touches the file system. The
// file operations come in as a small port so the CLI and tests can redirect them.
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { RunReport } from "../scenario/result.ts";
import { htmlReport } from "./html.ts";
import { reportJson } from "./json.ts";
import { junitXml } from "./junit.ts";

export interface ReportIO {
  /** Creates a directory and its parents; fine if it exists. */
  mkdir(dir: string): Promise<void>;
  /** Writes a whole file (UTF-8). */
  writeFile(path: string, data: string): Promise<void>;
}

/** Node's file system; each file is written to a temporary name and renamed, so a reader never sees half a report. */
export const nodeReportIO: ReportIO = {
  async mkdir(dir) {
    await mkdir(dir, { recursive: true });
  },
  async writeFile(path, data) {
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, data, "utf8");
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  },
};

export interface ReportFiles {
  json: string;
  junit: string;
  html: string;
}

/** Writes report.json, junit.xml and report.html into dir (created if missing); returns their paths. */
export async function writeReports(report: RunReport, dir: string, io: ReportIO = nodeReportIO): Promise<ReportFiles> {
  await io.mkdir(dir);
  const files: ReportFiles = { json: join(dir, "report.json"), junit: join(dir, "junit.xml"), html: join(dir, "report.html") };
  await io.writeFile(files.json, reportJson(report));
  await io.writeFile(files.junit, junitXml(report));
  await io.writeFile(files.html, htmlReport(report));
  return files;
}

async function writeOne(file: string, data: string, io: ReportIO): Promise<string> {
  await io.mkdir(dirname(file));
  await io.writeFile(file, data);
  return file;
}

/** Writes only the JUnit XML (e.g. `birdcage run --junit out/junit.xml`), creating the parent directory. */
export function writeJunit(report: RunReport, file: string, io: ReportIO = nodeReportIO): Promise<string> {
  return writeOne(file, junitXml(report), io);
}

/** Writes only report.json to the given file. */
export function writeJson(report: RunReport, file: string, io: ReportIO = nodeReportIO): Promise<string> {
  return writeOne(file, reportJson(report), io);
}

/** Writes only the HTML report to the given file. */
export function writeHtml(report: RunReport, file: string, io: ReportIO = nodeReportIO): Promise<string> {
  return writeOne(file, htmlReport(report), io);
}
