// Precompiled entry points for the processes real mode starts by the dozen: a `birdcage agent` per
// node and a CNI plugin run per pod. Through bin/birdcage.js each one compiles the TypeScript CLI with
// tsx as it loads (about 2.5 s of CPU for the agent, 1.5 s for the plugin: on 2 cores 20 agents took
// minutes to answer at load ~50). Bundled once with esbuild (which tsx itself uses) into one ESM file,
// the same code starts in well under a second. Packages stay external imports, so the bundle is
// written inside the repository (node_modules/.cache/birdcage) where Node resolves them. The file
// name is the bundle's hash: runs built from the same sources share it, changed sources get a new one.
// Without esbuild the launchers fall back to the tsx ones (bin/birdcage.js, bin/birdcage-cni).
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const BUNDLE_DIR = join(REPO, "node_modules", ".cache", "birdcage");

/** What each launcher runs: the same as bin/birdcage.js (exit once stdout/stderr flushed) and bin/birdcage-cni. */
const ENTRIES = {
  cli: {
    fallback: join(REPO, "bin", "birdcage.js"),
    source: `import { main } from "./src/cli/main.ts";
const code = await main(process.argv.slice(2));
const flushed = (s) => new Promise((r) => s.write("", () => r()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
`,
  },
  cni: {
    fallback: join(REPO, "bin", "birdcage-cni"),
    source: `import { cniMain } from "./real/cni/main.ts";
process.exit(await cniMain());
`,
  },
} as const;

export type LaunchEntry = keyof typeof ENTRIES;

export interface Launcher {
  /** The script to run with `node` (process.execPath), before the command's own arguments. */
  script: string;
  /** True when it is the esbuild bundle, false for the tsx fallback. */
  bundled: boolean;
  /** Why it fell back, when it did. */
  reason?: string;
}

const cache = new Map<LaunchEntry, Promise<Launcher>>();

/** The script to start `entry` with: bundled once per process (and per source change), else the tsx launcher. */
export function launcher(entry: LaunchEntry): Promise<Launcher> {
  let p = cache.get(entry);
  if (p === undefined) {
    p = bundle(entry).catch((e: unknown) => ({ script: ENTRIES[entry].fallback, bundled: false, reason: e instanceof Error ? e.message.split("\n")[0]! : String(e) }));
    cache.set(entry, p);
  }
  return p;
}

async function bundle(entry: LaunchEntry): Promise<Launcher> {
  // esbuild comes with tsx (not a direct dependency of birdcage): loaded only here, and optional.
  const esbuild = (await import("esbuild")) as typeof import("esbuild");
  const out = await esbuild.build({
    stdin: { contents: ENTRIES[entry].source, resolveDir: REPO, sourcefile: `birdcage-${entry}-entry.ts`, loader: "ts" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${process.versions.node.split(".")[0]}`,
    packages: "external",
    write: false,
    logLevel: "silent",
  });
  const code = out.outputFiles[0]?.contents;
  if (code === undefined) throw new Error("esbuild produced no output");
  const script = join(BUNDLE_DIR, `${entry}-${createHash("sha256").update(code).digest("hex").slice(0, 16)}.mjs`);
  if (!existsSync(script)) {
    await mkdir(BUNDLE_DIR, { recursive: true });
    // Another run may write the same file at the same time: write aside, then rename (atomic).
    const tmp = `${script}.${process.pid}.tmp`;
    await writeFile(tmp, code);
    await rename(tmp, script);
    await prune(entry, script);
  }
  return { script, bundled: true };
}

/** Bundles of earlier sources pile up while one develops: those untouched for a day go (a run holds its file for hours at most). */
async function prune(entry: LaunchEntry, keep: string): Promise<void> {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const f of await readdir(BUNDLE_DIR).catch(() => [] as string[])) {
    const path = join(BUNDLE_DIR, f);
    if (path === keep || !new RegExp(`^${entry}-[0-9a-f]{16}\\.mjs$`).test(f)) continue;
    const st = await stat(path).catch(() => undefined);
    if (st !== undefined && st.mtimeMs < dayAgo) await rm(path, { force: true });
  }
}
