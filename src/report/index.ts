// Reports of a run (docs/reports.md): report.json, JUnit XML and a self-contained HTML page.
export { reportJson, canonical, type Json } from "./json.ts";
export { junitXml } from "./junit.ts";
export { htmlReport, HTML_LIMITS } from "./html.ts";
export { writeReports, writeJunit, writeJson, writeHtml, nodeReportIO, type ReportIO, type ReportFiles } from "./write.ts";
export { readReport, reportJsonSchema, runReportSchema, ReportFormatError } from "./schema.ts";
