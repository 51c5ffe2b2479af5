// Which backends exist: sim/ and real/ register a factory for their mode when their register
// module is imported, so the CLI can ask for a mode without importing either world directly.
import type { Backend, BackendMode } from "./backend.ts";

export type BackendFactory = () => Backend;

const factories = new Map<BackendMode, BackendFactory>();

/** Makes `mode` available; a second registration replaces the first (tests use this). */
export function registerBackend(mode: BackendMode, factory: BackendFactory): void {
  factories.set(mode, factory);
}

export function unregisterBackend(mode: BackendMode): void {
  factories.delete(mode);
}

export function hasBackend(mode: BackendMode): boolean {
  return factories.has(mode);
}

/** The modes with a backend, sorted. */
export function registeredModes(): BackendMode[] {
  return [...factories.keys()].sort();
}

export class NoBackendError extends Error {
  readonly exitCode = 2;
  constructor(readonly mode: BackendMode, detail?: string) {
    super(`no ${mode} backend available${detail ? ` (${detail})` : ""}`);
    this.name = "NoBackendError";
  }
}

/** A new backend of `mode`; throws NoBackendError when none is registered. */
export function createBackend(mode: BackendMode): Backend {
  const f = factories.get(mode);
  if (!f) throw new NoBackendError(mode);
  return f();
}
