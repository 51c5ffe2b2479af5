// One way to print data for every command: `--output table|json|yaml`. JSON and YAML print the same
// object; the table form is the command's own human rendering.
import { Option, type Command } from "commander";
import { stringify } from "yaml";

export type OutputFormat = "table" | "json" | "yaml";

export function outputOption(): Option {
  return new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml"]).default("table");
}

/** Adds `--output` to a command that prints data. */
export const withOutput = (cmd: Command): Command => cmd.addOption(outputOption());

export function render(data: unknown, format: OutputFormat, table: () => string): string {
  switch (format) {
    case "json":
      return JSON.stringify(data, null, 2) + "\n";
    case "yaml":
      return stringify(data);
    case "table":
      return table();
  }
}

/** A plain aligned text table: header row, then rows; columns padded to the widest cell. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return (
    cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n") + "\n"
  );
}
