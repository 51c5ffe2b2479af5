#!/usr/bin/env node
// Launcher: runs the TypeScript CLI through tsx so that no build step is needed.
import { register } from "tsx/esm/api";
register();
const { main } = await import("../src/cli/main.ts");
const code = await main(process.argv.slice(2));
// process.exit() does not wait for a pipe to take what was written (`birdcage topo show -o json | jq`
// would lose all but the first 64 KiB): exit once both streams have flushed.
const flushed = (stream) => new Promise((resolve) => stream.write("", () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
