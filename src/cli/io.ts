// Reading the files users name on the command line; "-" is standard input.
import { readFile } from "node:fs/promises";
import { UsageError } from "./errors.ts";

export async function readInput(path: string): Promise<string> {
  if (path === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : String(e)}`);
  }
}

/** The name a file is reported under: "<stdin>" for "-". */
export const displayName = (path: string): string => (path === "-" ? "<stdin>" : path);
