// The owner of a run: writes the state file (intent log) before each object is created, installs
// the exit and signal handlers that clean up, and removes everything on teardown. One RunOwner per
// run and process; `birdcage real gc` cleans up after runs whose owner died (kill -9).
import { unlinkSync } from "node:fs";
import { describeObject, removeObjects, removeObjectsSync, type RemovalResult } from "./cleanup.ts";
import { checkRunId, newRunId } from "./names.ts";
import { createState, currentHolder, removeState, stateDir, statePath, writeState, type OwnedObject, type RunState } from "./state.ts";

export interface RunOwnerOptions {
  /** Default: a fresh random id. */
  runId?: string;
  /** Default: $BIRDCAGE_STATE_DIR or /run/birdcage. */
  stateDir?: string;
  engine?: RunState["engine"];
  topology?: { name: string; file: string };
  /**
   * SIGINT/SIGTERM handling. "exit" (default): tear down, then exit with 128+signal number.
   * A function: tear down, then call it (the caller decides how to finish). false: no handlers
   * (the process 'exit' handler still removes namespaces and processes).
   */
  signals?: "exit" | ((signal: NodeJS.Signals) => void) | false;
  log?: (line: string) => void;
}

/** A build stopped by SIGINT/SIGTERM/SIGHUP (the run is torn down). */
export class Interrupted extends Error {
  override name = "Interrupted";
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
const SIGNO: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

export class RunOwner {
  readonly runId: string;
  readonly dir: string;
  readonly state: RunState;
  private readonly log: (line: string) => void;
  private tornDown: Promise<RemovalResult> | undefined;
  private readonly signalMode: RunOwnerOptions["signals"];
  private writing: Promise<void> = Promise.resolve();

  private constructor(state: RunState, dir: string, options: RunOwnerOptions) {
    this.state = state;
    this.runId = state.runId;
    this.dir = dir;
    this.log = options.log ?? (() => undefined);
    this.signalMode = options.signals ?? "exit";
  }

  /** Claims the run id (exclusive create of the state file) and installs the handlers. */
  static async create(options: RunOwnerOptions = {}): Promise<RunOwner> {
    const runId = checkRunId(options.runId ?? newRunId());
    const dir = options.stateDir ?? stateDir();
    const state: RunState = {
      version: 1,
      runId,
      engine: options.engine ?? "netns",
      createdAt: new Date().toISOString(),
      holder: currentHolder(),
      detached: false,
      ...(options.topology ? { topology: options.topology } : {}),
      objects: [],
    };
    const owner = new RunOwner(state, dir, options);
    // Handlers first, with signals held until the file exists: no window in which a signal kills
    // the process between claiming the run and being able to clean it up.
    owner.building = true;
    owner.install();
    try {
      await createState(dir, state);
    } catch (e) {
      owner.uninstall();
      throw e;
    } finally {
      owner.building = false;
    }
    return owner;
  }

  get file(): string {
    return statePath(this.dir, this.runId);
  }

  /** Records objects that are about to be created. Resolves once the state file lists them. */
  async intend(objects: OwnedObject[]): Promise<void> {
    if (this.tornDown) throw new Error(`run ${this.runId} is torn down`);
    this.state.objects.push(...objects);
    await this.flush();
  }

  async setInfo(info: Record<string, unknown>): Promise<void> {
    this.state.info = { ...this.state.info, ...info };
    await this.flush();
  }

  /** Leaves the run in place when this process exits: only `birdcage real down RUN` removes it then. */
  async detach(): Promise<void> {
    this.state.detached = true;
    await this.flush();
    this.uninstall();
  }

  /** Removes every recorded object, then the state file (kept, with the failures, if any remain). Idempotent. */
  teardown(): Promise<RemovalResult> {
    return (this.tornDown ??= (async () => {
      await this.writing;
      const r = await removeObjects([...this.state.objects].reverse(), this.log);
      if (r.failed.length === 0) await removeState(this.dir, this.runId);
      else this.log(`run ${this.runId}: ${r.failed.length} object(s) left (${r.failed.map((f) => describeObject(f.object)).join(", ")}); see ${this.file}`);
      this.uninstall();
      return r;
    })());
  }

  private flush(): Promise<void> {
    // Serialised: each write carries everything recorded so far.
    const next = this.writing.then(() => writeState(this.dir, this.state));
    this.writing = next.catch(() => undefined);
    return next;
  }

  private readonly onExit = (): void => {
    if (this.state.detached) return;
    if (!removeObjectsSync(this.state.objects)) return; // gc finds the rest through the state file
    try {
      unlinkSync(this.file);
    } catch {
      // gone
    }
  };

  private building = false;
  private pendingSignal: NodeJS.Signals | undefined;

  /**
   * Runs `work` (a build) so that a signal arriving meanwhile does not race it: the signal is held,
   * `interrupted()` tells the build to stop at its next step, and once `work` has settled the run is
   * torn down and the signal handled.
   */
  async guard<T>(work: () => Promise<T>): Promise<T> {
    this.building = true;
    try {
      this.checkInterrupted();
      return await work();
    } finally {
      this.building = false;
      const signal = this.pendingSignal;
      if (signal !== undefined) this.onSignal(signal);
    }
  }

  /** Throws when a signal arrived during guard(): the build stops and cleans up. */
  checkInterrupted(): void {
    if (this.pendingSignal !== undefined) throw new Interrupted(`interrupted by ${this.pendingSignal}`);
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.building) {
      this.pendingSignal = signal;
      this.log(`${signal}: stopping the build of run ${this.runId}`);
      return;
    }
    this.log(`${signal}: tearing down run ${this.runId}`);
    void this.teardown().then(
      () => this.finish(signal),
      () => this.finish(signal),
    );
  };

  private finish(signal: NodeJS.Signals): void {
    const mode = this.signalMode;
    if (typeof mode === "function") mode(signal);
    else process.exit(128 + (SIGNO[signal] ?? 0));
  }

  private install(): void {
    process.on("exit", this.onExit);
    if (this.signalMode !== false) for (const s of SIGNALS) process.on(s, this.onSignal);
  }

  private uninstall(): void {
    process.off("exit", this.onExit);
    for (const s of SIGNALS) process.off(s, this.onSignal);
  }
}
