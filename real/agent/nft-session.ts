// One long-lived `nft -i` (interactive) process per network namespace, fed one transaction at a
// time. A fresh `nft -f` per change costs a process start, `ip netns exec`'s set-up and nft's
// library start before any work (30-40 ms of a 10-command delta on this machine); the session pays
// them once. Each transaction is written to a file and loaded with `include "<file>"` on one input
// line, because libedit reads piped input a byte per read(2) and a line is one nft transaction: the
// included file is parsed, evaluated and committed as one batch, all or nothing, as `nft -f` does.
//
// nft -i prints nothing on success, so each request is followed by a marker line, `bc-sync-<n>`,
// which nft rejects as a syntax error echoing the line on stderr: everything on stderr before that
// error belongs to the transaction (its errors, if any), and stderr is one ordered stream.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NftSessionOptions {
  /**
   * Named namespace to run nft in (`ip netns exec`); the process's own when omitted. nft stays in
   * the namespace it started in: a namespace deleted and made again under the same name needs a
   * new session (close() this one).
   */
  netns?: string;
  /** A transaction that takes longer fails and the process is restarted (default 60 s). */
  timeoutMs?: number;
}

export interface NftResult {
  ok: boolean;
  /** nft's messages about this transaction (empty when it was applied). */
  stderr: string;
}

/**
 * glibc's allocator for nft: on transparent huge pages, and growing the heap 64 MB at a time. nft
 * allocates ~70 MB for 10,000 rules and page faults (and malloc's heap growth) were a third of its
 * time; with these 17,000 faults became ~900 and nft's CPU time halved (0.85 → 0.40 s for the
 * 1,000-policy bench ruleset). The price: after a large load the process keeps up to 64 MB of free
 * heap. Without THP in the kernel the first tunable does nothing.
 */
export const NFT_ENV = { GLIBC_TUNABLES: "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864" } as const;

interface Pending {
  readonly tag: string;
  readonly resolve: (r: NftResult) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class NftSession {
  #child: ChildProcess | undefined;
  #dir: string | undefined;
  #stderr = "";
  #pending: Pending | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #seq = 0;
  #closed = false;
  /** Processes started (1 unless nft died or timed out). */
  starts = 0;

  constructor(private readonly opts: NftSessionOptions = {}) {
    if (opts.netns !== undefined && !/^[A-Za-z0-9_.-]+$/.test(opts.netns)) throw new Error(`bad namespace name "${opts.netns}"`);
  }

  /** The nft process's id while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the nft process now (it loads its libraries while the caller plans), if not running. */
  start(): void {
    if (!this.#closed) this.#start();
  }

  /** Applies one nft script as one transaction (in order with earlier calls). */
  run(script: string): Promise<NftResult> {
    const next = this.#queue.then(() => this.#run(script));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Ends the nft process and removes the session's directory. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    await this.#stop();
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }

  async #run(script: string): Promise<NftResult> {
    if (this.#closed) throw new Error("nft session closed");
    const child = this.#start();
    const file = join(this.#dir!, "tx.nft");
    writeFileSync(file, script);
    const tag = `bc-sync-${++this.#seq}`;
    return new Promise<NftResult>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending = undefined;
        void this.#stop();
        resolve({ ok: false, stderr: `nft did not answer within ${this.opts.timeoutMs ?? 60_000} ms` });
      }, this.opts.timeoutMs ?? 60_000);
      this.#pending = { tag, resolve, timer };
      child.stdin!.write(`include "${file}"\n${tag}\n`);
    });
  }

  #start(): ChildProcess {
    if (this.#child !== undefined) return this.#child;
    // The pid in the name lets `birdcage real gc` remove the directory of an agent killed with SIGKILL.
    this.#dir ??= mkdtempSync(join(tmpdir(), `bc-nft-${process.pid}-`));
    const argv = this.opts.netns !== undefined ? ["ip", "netns", "exec", this.opts.netns, "nft", "-i"] : ["nft", "-i"];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...NFT_ENV } });
    this.starts++;
    this.#child = child;
    this.#stderr = "";
    child.stdout!.resume(); // nothing is printed for a transaction; keep the pipe drained
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      this.#stderr += d;
      this.#settle();
    });
    child.stdin!.on("error", () => undefined); // a dead process is reported by "exit"
    child.on("error", (e) => this.#died(child, e.message));
    child.on("exit", (code, signal) => this.#died(child, `nft exited (${signal ?? code})`));
    return child;
  }

  /** Resolves the pending transaction once its marker's error (the line and the caret under it) is in. */
  #settle(): void {
    const p = this.#pending;
    if (p === undefined) return;
    const lines = this.#stderr.split("\n");
    const at = lines.indexOf(p.tag);
    // The echoed marker is followed by a caret line; the text ends with a newline after it.
    if (at < 0 || lines.length < at + 3) return;
    let start = at - 1;
    while (start >= 0 && !lines[start]!.startsWith("Error:")) start--;
    const own = lines.slice(0, Math.max(start, 0)).join("\n").trim();
    this.#stderr = lines.slice(at + 2).join("\n");
    this.#pending = undefined;
    clearTimeout(p.timer);
    p.resolve({ ok: !/\bError\b/.test(own), stderr: own });
  }

  #died(child: ChildProcess, why: string): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    const p = this.#pending;
    if (p === undefined) return;
    this.#pending = undefined;
    clearTimeout(p.timer);
    p.resolve({ ok: false, stderr: `${this.#stderr.trim()}\n${why}`.trim() });
  }

  /** Ends the process (end of input, then SIGTERM) and waits for it to exit. */
  async #stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin!.end();
    child.kill();
    await exited;
  }
}
