// Running a long-lived command (a speaker, an agent) until SIGINT/SIGTERM: start it (a failed start
// is cleaned up and becomes a usage error, exit 2), wait for a signal, stop it, and always take the
// signal handlers away again (tests run several daemons in one process).
import { UsageError } from "./errors.ts";

export async function runUntilSignal(daemon: { start(): Promise<void>; stop(): Promise<void> }): Promise<void> {
  let onSignal: (s: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (onSignal = resolve));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    try {
      await daemon.start();
    } catch (e) {
      await daemon.stop();
      throw new UsageError(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
    }
    const signal = await stopped;
    process.stderr.write(`${new Date().toISOString()} ${signal}: stopping\n`);
    await daemon.stop();
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
