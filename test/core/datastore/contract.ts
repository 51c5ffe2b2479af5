// The Datastore contract: one suite that every implementation runs (memory.test.ts, and
// test/real/datastore/etcd.test.ts against a real etcd). Revisions are only compared relative to each
// other, because an etcd shared between namespaces has a global revision other tests move too.
import { afterEach, describe, expect, test } from "@jest/globals";
import { DatastoreError, isDatastoreError } from "../../../src/core/datastore/port.ts";
import type { Datastore, DatastoreErrorCode, WatchEvent } from "../../../src/core/datastore/port.ts";

/** Implementations may offer etcd-style compaction; the Compacted tests run only where they do. */
export type ContractDatastore = Datastore & { compact?(revision: number): Promise<void> };

export interface ContractOptions {
  /** How long to wait for watch events before failing with a useful message (ms). */
  eventTimeoutMs?: number;
  /** A second, independent handle (client connection) to the same data; default: the same handle. */
  openAnother?: (store: ContractDatastore) => Datastore | Promise<Datastore>;
}

export function describeDatastoreContract(
  name: string,
  makeStore: () => ContractDatastore | Promise<ContractDatastore>,
  options: ContractOptions = {},
): void {
  const timeoutMs = options.eventTimeoutMs ?? 10_000;
  const open: Datastore[] = [];
  const fresh = async (): Promise<ContractDatastore> => {
    const s = await makeStore();
    open.push(s);
    return s;
  };
  const collect = (s: Datastore, prefix: string, from: number | undefined) => new Collector(s, prefix, from, timeoutMs);

  describe(`Datastore contract: ${name}`, () => {
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    describe("create, get", () => {
      test("get of an absent key is undefined", async () => {
        const s = await fresh();
        expect(await s.get("/nothing/here")).toBeUndefined();
      });

      test("create stores the value with createRevision == modRevision above the previous revision", async () => {
        const s = await fresh();
        await s.create("/warmup", "x");
        const before = await s.revision();
        const kv = await s.create("/a/one", "v1");
        expect(kv).toEqual({ key: "/a/one", value: "v1", createRevision: kv.modRevision, modRevision: kv.modRevision });
        expect(kv.modRevision).toBeGreaterThan(before);
        expect(await s.get("/a/one")).toEqual(kv);
        expect(await s.revision()).toBe(kv.modRevision);
      });

      test("create of an existing key fails with AlreadyExists and changes nothing", async () => {
        const s = await fresh();
        const kv = await s.create("/a/one", "v1");
        await expectCode(s.create("/a/one", "v2"), "AlreadyExists", "/a/one");
        expect(await s.get("/a/one")).toEqual(kv);
        expect(await s.revision()).toBe(kv.modRevision);
      });

      test("only one of N concurrent creates of the same key wins", async () => {
        const s = await fresh();
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => s.create("/race/key", `racer-${i}`)));
        const won = results.filter((r) => r.status === "fulfilled");
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === "rejected") expect(isDatastoreError(r.reason, "AlreadyExists")).toBe(true);
        const winner = (won[0] as PromiseFulfilledResult<{ value: string }>).value.value;
        expect((await s.get("/race/key"))?.value).toBe(winner);
      });

      test("an empty key is rejected", async () => {
        const s = await fresh();
        await expect(s.create("", "v")).rejects.toThrow(TypeError);
        await expect(s.get("")).rejects.toThrow(TypeError);
      });
    });

    describe("update-if-revision", () => {
      test("update at the current revision writes and moves modRevision, keeping createRevision", async () => {
        const s = await fresh();
        const kv = await s.create("/k", "1");
        const kv2 = await s.update("/k", "2", kv.modRevision);
        expect(kv2.value).toBe("2");
        expect(kv2.createRevision).toBe(kv.createRevision);
        expect(kv2.modRevision).toBeGreaterThan(kv.modRevision);
        expect(await s.get("/k")).toEqual(kv2);
      });

      test("update at a stale revision fails with Conflict and changes nothing", async () => {
        const s = await fresh();
        const kv = await s.create("/k", "1");
        const kv2 = await s.update("/k", "2", kv.modRevision);
        await expectCode(s.update("/k", "3", kv.modRevision), "Conflict", "/k");
        await expectCode(s.update("/k", "3", kv2.modRevision + 1000), "Conflict", "/k");
        expect(await s.get("/k")).toEqual(kv2);
        expect(await s.revision()).toBe(kv2.modRevision);
      });

      test("update of an absent key fails with NotFound, whatever the revision (0 included)", async () => {
        const s = await fresh();
        const other = await s.create("/other", "x");
        await expectCode(s.update("/absent", "v", other.modRevision), "NotFound", "/absent");
        await expectCode(s.update("/absent", "v", 0), "NotFound", "/absent");
        expect(await s.get("/absent")).toBeUndefined();
      });

      test("update of an existing key at revision 0 is a Conflict, not a create", async () => {
        const s = await fresh();
        const kv = await s.create("/k", "1");
        await expectCode(s.update("/k", "2", 0), "Conflict", "/k");
        expect(await s.get("/k")).toEqual(kv);
      });
    });

    describe("delete", () => {
      test("delete at the current revision removes the key and moves the store revision", async () => {
        const s = await fresh();
        const kv = await s.create("/k", "1");
        await s.delete("/k", kv.modRevision);
        expect(await s.get("/k")).toBeUndefined();
        expect(await s.revision()).toBeGreaterThan(kv.modRevision);
      });

      test("delete at a stale revision fails with Conflict and keeps the key", async () => {
        const s = await fresh();
        const kv = await s.create("/k", "1");
        const kv2 = await s.update("/k", "2", kv.modRevision);
        await expectCode(s.delete("/k", kv.modRevision), "Conflict", "/k");
        expect(await s.get("/k")).toEqual(kv2);
      });

      test("delete without a revision removes whatever is there", async () => {
        const s = await fresh();
        const kv = await s.create("/k", "1");
        await s.update("/k", "2", kv.modRevision);
        await s.delete("/k");
        expect(await s.get("/k")).toBeUndefined();
      });

      test("delete of an absent key fails with NotFound and writes nothing", async () => {
        const s = await fresh();
        await s.create("/other", "x");
        const before = await s.revision();
        await expectCode(s.delete("/absent"), "NotFound", "/absent");
        await expectCode(s.delete("/absent", before), "NotFound", "/absent");
        expect(await s.revision()).toBe(before);
      });

      test("a key created again after a delete gets a new createRevision", async () => {
        const s = await fresh();
        const kv = await s.create("/k", "1");
        await s.delete("/k", kv.modRevision);
        const again = await s.create("/k", "2");
        expect(again.createRevision).toBeGreaterThan(kv.createRevision);
        expect(again.createRevision).toBe(again.modRevision);
      });
    });

    describe("list", () => {
      test("lists exactly the keys under the prefix, sorted, at the current revision", async () => {
        const s = await fresh();
        for (const k of ["/p/c", "/p/a", "/p/b/deep", "/pq", "/o", "/p"]) await s.create(k, `v${k}`);
        const r = await s.list("/p/");
        expect(r.items.map((i) => i.key)).toEqual(["/p/a", "/p/b/deep", "/p/c"]);
        expect(r.items.map((i) => i.value)).toEqual(["v/p/a", "v/p/b/deep", "v/p/c"]);
        expect(r.revision).toBe(await s.revision());
        for (const item of r.items) expect(item).toEqual(await s.get(item.key));
      });

      test("an empty prefix lists everything; a prefix with no keys lists nothing", async () => {
        const s = await fresh();
        await s.create("/b", "2");
        await s.create("/a", "1");
        expect((await s.list("")).items.map((i) => i.key)).toEqual(["/a", "/b"]);
        const none = await s.list("/zzz/");
        expect(none.items).toEqual([]);
        expect(none.revision).toBe(await s.revision());
      });

      test("orders keys by UTF-8 bytes (code points), as etcd does", async () => {
        const s = await fresh();
        const keys = ["/u/z", "/u/é", "/u/\u{1F426}", "/u/\uFFFD", "/u/A", "/u/\u00FF", "/u/\uE000"];
        for (const k of keys) await s.create(k, k);
        const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        expect((await s.list("/u/")).items.map((i) => i.key)).toEqual(expected);
      });

      test("list sees writes and deletes, and its revision follows them", async () => {
        const s = await fresh();
        const a = await s.create("/l/a", "1");
        const r1 = await s.list("/l/");
        await s.create("/l/b", "2");
        await s.delete("/l/a", a.modRevision);
        const r2 = await s.list("/l/");
        expect(r2.items.map((i) => i.key)).toEqual(["/l/b"]);
        expect(r2.revision).toBeGreaterThan(r1.revision);
      });
    });

    describe("revisions", () => {
      test("every write gets a strictly higher revision and revision() never goes back", async () => {
        const s = await fresh();
        let last = await s.revision();
        const kv = await s.create("/r/a", "0");
        let rev = kv.modRevision;
        for (let i = 1; i <= 20; i++) {
          const next = await s.update("/r/a", String(i), rev);
          expect(next.modRevision).toBeGreaterThan(rev);
          rev = next.modRevision;
          const now = await s.revision();
          expect(now).toBeGreaterThanOrEqual(last);
          expect(now).toBeGreaterThanOrEqual(rev);
          last = now;
        }
        const b = await s.create("/r/b", "x");
        expect(b.modRevision).toBeGreaterThan(rev);
      });
    });

    describe("values", () => {
      test("unicode, newlines, JSON and empty values round-trip unchanged", async () => {
        const s = await fresh();
        const values = ["héllo wörld", "鳥かご 🐦 \u{1F426}\u200D\u2B1B", "line1\nline2\r\n\ttab", '{"cidr":"10.1.0.0/26","a":[0,null]}', "", "\u0000nul"];
        for (const [i, v] of values.entries()) {
          const kv = await s.create(`/v/${i}`, v);
          expect(kv.value).toBe(v);
          expect((await s.get(`/v/${i}`))?.value).toBe(v);
        }
        expect((await s.list("/v/")).items.map((i) => i.value)).toEqual(values);
        const kv = await s.create("/v/ключ-🐦", "значение");
        expect(await s.get("/v/ключ-🐦")).toEqual(kv);
      });

      test("a large value (256 KiB) round-trips", async () => {
        const s = await fresh();
        const big = "0123456789abcdef€".repeat(16 * 1024);
        await s.create("/big", big);
        expect((await s.get("/big"))?.value).toBe(big);
      });
    });

    describe("compare-and-swap races", () => {
      test("8 racers each incrementing a counter 15 times with retry loops end at exactly 120", async () => {
        const s = await fresh();
        await s.create("/counter", "0");
        const racer = async (): Promise<void> => {
          for (let n = 0; n < 15; n++) {
            for (;;) {
              const kv = await s.get("/counter");
              if (!kv) throw new Error("counter vanished");
              try {
                await s.update("/counter", String(Number(kv.value) + 1), kv.modRevision);
                break;
              } catch (e) {
                if (!isDatastoreError(e, "Conflict")) throw e;
              }
            }
          }
        };
        await Promise.all(Array.from({ length: 8 }, racer));
        expect((await s.get("/counter"))?.value).toBe("120");
      });

      test("racers on separate handles to the same store agree too", async () => {
        const first = await fresh();
        const handles = [first, ...(await Promise.all([1, 2, 3].map(async () => {
          const h = options.openAnother ? await options.openAnother(first) : first;
          if (h !== first) open.push(h);
          return h;
        })))];
        await first.create("/counter", "0");
        await Promise.all(
          handles.map(async (s) => {
            for (let n = 0; n < 10; n++) {
              for (;;) {
                const kv = (await s.get("/counter"))!;
                try {
                  await s.update("/counter", String(Number(kv.value) + 1), kv.modRevision);
                  break;
                } catch (e) {
                  if (!isDatastoreError(e, "Conflict")) throw e;
                }
              }
            }
          }),
        );
        expect((await first.get("/counter"))?.value).toBe("40");
        for (const h of handles) expect((await h.get("/counter"))?.value).toBe("40");
      });
    });

    describe("watch", () => {
      test("replays history from a start revision, then follows live writes, in order, each once", async () => {
        const s = await fresh();
        const a = await s.create("/w/a", "1");
        const a2 = await s.update("/w/a", "2", a.modRevision);
        await s.create("/w/b", "1");
        await s.delete("/w/a", a2.modRevision);
        const c = collect(s, "/w/", a.modRevision);
        await c.waitFor(4);
        await s.create("/w/c", "live");
        await s.update("/w/c", "live2", (await s.get("/w/c"))!.modRevision);
        await c.waitFor(6);
        await c.expectQuiet(s, "/w/");
        expect(c.summary()).toEqual(["put /w/a=1", "put /w/a=2", "put /w/b=1", "delete /w/a", "put /w/c=live", "put /w/c=live2", "put /w/~sentinel=end"]);
        expectIncreasing(c.events);
        expect(c.events[0]!.revision).toBe(a.modRevision);
        expect(c.events[1]!.revision).toBe(a2.modRevision);
        c.watch.cancel();
      });

      test("replay starts at the given revision, not before", async () => {
        const s = await fresh();
        await s.create("/w/1", "a");
        const two = await s.create("/w/2", "b");
        await s.create("/w/3", "c");
        const c = collect(s, "/w/", two.modRevision);
        await c.waitFor(2);
        await c.expectQuiet(s, "/w/");
        expect(c.summary()).toEqual(["put /w/2=b", "put /w/3=c", "put /w/~sentinel=end"]);
        c.watch.cancel();
      });

      test("a delete event has type delete, no value, and the revision of the delete", async () => {
        const s = await fresh();
        const kv = await s.create("/d/k", "v");
        const c = collect(s, "/d/", kv.modRevision + 1);
        await s.delete("/d/k", kv.modRevision);
        const rev = await s.revision();
        await c.waitFor(1);
        expect(c.events[0]).toEqual({ type: "delete", key: "/d/k", value: undefined, revision: rev });
        c.watch.cancel();
      });

      test("without a start revision only changes after the call are delivered", async () => {
        const s = await fresh();
        await s.create("/w/old", "1");
        const c = collect(s, "/w/", undefined);
        await s.create("/w/new", "2");
        await c.waitFor(1);
        await c.expectQuiet(s, "/w/");
        expect(c.summary()).toEqual(["put /w/new=2", "put /w/~sentinel=end"]);
        c.watch.cancel();
      });

      test("only keys under the prefix are delivered", async () => {
        const s = await fresh();
        const start = (await s.revision()) + 1;
        const c = collect(s, "/ns/a/", start);
        await s.create("/ns/a", "no: not under /ns/a/");
        await s.create("/ns/ab/x", "no");
        await s.create("/ns/a/x", "yes");
        await s.create("/ns/b/x", "no");
        await s.create("/ns/a/y/z", "yes");
        await c.waitFor(2);
        await c.expectQuiet(s, "/ns/a/");
        expect(c.summary()).toEqual(["put /ns/a/x=yes", "put /ns/a/y/z=yes", "put /ns/a/~sentinel=end"]);
        c.watch.cancel();
      });

      test("cancel stops delivery", async () => {
        const s = await fresh();
        const start = (await s.revision()) + 1;
        const c = collect(s, "/w/", start);
        await s.create("/w/1", "a");
        await c.waitFor(1);
        c.watch.cancel();
        await s.create("/w/2", "b");
        // A second watch proves the write was delivered somewhere; the cancelled one must stay silent.
        const probe = collect(s, "/w/", start);
        await probe.waitFor(2);
        await probe.expectQuiet(s, "/w/");
        expect(c.summary()).toEqual(["put /w/1=a"]);
        probe.watch.cancel();
      });

      test("several watches each get every event once, in the same order", async () => {
        const s = await fresh();
        const start = (await s.revision()) + 1;
        const cs = [collect(s, "/m/", start), collect(s, "/m/", start), collect(s, "/m/x/", start)];
        for (let i = 0; i < 10; i++) await s.create(`/m/${i % 2 ? "x/" : ""}${i}`, String(i));
        await cs[0]!.waitFor(10);
        await cs[1]!.waitFor(10);
        await cs[2]!.waitFor(5);
        expect(cs[1]!.summary()).toEqual(cs[0]!.summary());
        expect(cs[2]!.summary()).toEqual(cs[0]!.summary().filter((e) => e.startsWith("put /m/x/")));
        for (const c of cs) {
          expectIncreasing(c.events);
          c.watch.cancel();
        }
      });

      test("concurrent writers: a watch sees every successful write exactly once", async () => {
        const s = await fresh();
        const start = (await s.revision()) + 1;
        const c = collect(s, "/cw/", start);
        const written = await Promise.all(Array.from({ length: 40 }, (_, i) => s.create(`/cw/${String(i).padStart(2, "0")}`, String(i))));
        await c.waitFor(40);
        await c.expectQuiet(s, "/cw/");
        expectIncreasing(c.events);
        const byKey = new Map(c.events.map((e) => [e.key, e.revision]));
        for (const kv of written) expect(byKey.get(kv.key)).toBe(kv.modRevision);
        c.watch.cancel();
      });

      test("callbacks are never re-entered, even when they write to the store", async () => {
        const s = await fresh();
        const start = (await s.revision()) + 1;
        let inside = false;
        let reentered = false;
        const seen: string[] = [];
        const writes: Promise<unknown>[] = [];
        let resolveDone!: () => void;
        const done = new Promise<void>((r) => (resolveDone = r));
        const w = s.watch("/re/", start, (e) => {
          if (inside) reentered = true;
          inside = true;
          seen.push(e.key);
          // Writing from inside the callback must not deliver synchronously into it.
          if (e.key.startsWith("/re/in/") && !e.key.endsWith("/echo")) writes.push(s.create(`${e.key}/echo`, "e"));
          if (seen.length === 6) resolveDone();
          inside = false;
        });
        await Promise.all([s.create("/re/in/1", "a"), s.create("/re/in/2", "b"), s.create("/re/in/3", "c")]);
        await withTimeout(done, timeoutMs, () => `saw only ${JSON.stringify(seen)}`);
        await Promise.all(writes);
        expect(reentered).toBe(false);
        expect([...seen].sort()).toEqual(["/re/in/1", "/re/in/1/echo", "/re/in/2", "/re/in/2/echo", "/re/in/3", "/re/in/3/echo"]);
        w.cancel();
      });

      test("list, then watch from list.revision + 1, rebuilds the final state while writers run (no gap, no overlap)", async () => {
        const s = await fresh();
        for (let i = 0; i < 10; i++) await s.create(`/inf/${i}`, "0");
        // Writers keep changing keys while the reader lists and starts its watch.
        let stop = false;
        const writers = Array.from({ length: 3 }, async (_, w) => {
          for (let n = 0; !stop && n < 60; n++) {
            const key = `/inf/${(n * 3 + w) % 12}`;
            const kv = await s.get(key);
            try {
              if (!kv) await s.create(key, `w${w}-${n}`);
              else if (n % 7 === 0) await s.delete(key, kv.modRevision);
              else await s.update(key, `w${w}-${n}`, kv.modRevision);
            } catch (e) {
              if (!isDatastoreError(e)) throw e;
            }
          }
        });
        await s.create("/inf/start", "go");
        const listed = await s.list("/inf/");
        const state = new Map(listed.items.map((kv) => [kv.key, kv.value]));
        const c = collect(s, "/inf/", listed.revision + 1);
        await Promise.all(writers);
        stop = true;
        // Everything written before the sentinel is delivered before it.
        await s.create("/inf/~sentinel", "end");
        await c.waitForKey("/inf/~sentinel");
        for (const e of c.events) {
          if (e.type === "put") state.set(e.key, e.value!);
          else state.delete(e.key);
        }
        const final = await s.list("/inf/");
        expect([...state.entries()].sort(([a], [b]) => (a < b ? -1 : 1))).toEqual(final.items.map((kv) => [kv.key, kv.value]));
        c.watch.cancel();
      });

      test("a watch on another handle to the same store sees this handle's writes", async () => {
        const s = await fresh();
        const other = options.openAnother ? await options.openAnother(s) : s;
        if (other !== s) open.push(other);
        const start = (await s.revision()) + 1;
        const c = collect(other, "/x/", start);
        const kv = await s.create("/x/a", "1");
        await s.update("/x/a", "2", kv.modRevision);
        await c.waitFor(2);
        expect(c.summary()).toEqual(["put /x/a=1", "put /x/a=2"]);
        c.watch.cancel();
      });

      test("a watch from a compacted revision fails with Compacted", async () => {
        const s = await fresh();
        if (!s.compact) {
          console.warn(`${name}: no compact(); Compacted is not testable here`);
          return;
        }
        const kv = await s.create("/c/a", "1");
        const kv2 = await s.update("/c/a", "2", kv.modRevision);
        await s.update("/c/a", "3", kv2.modRevision);
        await s.compact(kv2.modRevision + 1);
        const errors: DatastoreError[] = [];
        const events: WatchEvent[] = [];
        const failed = new Promise<void>((resolve) => {
          s.watch("/c/", kv.modRevision, (e) => events.push(e), (e) => {
            errors.push(e);
            resolve();
          });
        });
        await withTimeout(failed, timeoutMs, () => "no Compacted error arrived");
        expect(errors.map((e) => e.code)).toEqual(["Compacted"]);
        expect(events).toEqual([]);
        // From the compaction revision on, history is still there.
        const c = collect(s, "/c/", kv2.modRevision + 1);
        await c.waitFor(1);
        expect(c.summary()).toEqual(["put /c/a=3"]);
        c.watch.cancel();
      });
    });

    describe("close", () => {
      test("operations on a closed store fail with Unavailable", async () => {
        const s = await fresh();
        await s.create("/k", "v");
        await s.close();
        await expectCode(s.get("/k"), "Unavailable");
        await expectCode(s.create("/k2", "v"), "Unavailable");
      });
    });
  });
}

async function expectCode(p: Promise<unknown>, code: DatastoreErrorCode, key?: string): Promise<void> {
  const e = await p.then(
    () => new Error(`expected ${code}, but the operation succeeded`),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DatastoreError);
  expect((e as DatastoreError).code).toBe(code);
  if (key !== undefined) expect((e as DatastoreError).key).toBe(key);
}

function expectIncreasing(events: readonly WatchEvent[]): void {
  for (let i = 1; i < events.length; i++) expect(events[i]!.revision).toBeGreaterThan(events[i - 1]!.revision);
}

async function withTimeout<T>(p: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${why()}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Records a watch's events and lets a test wait for a count. */
class Collector {
  readonly events: WatchEvent[] = [];
  readonly errors: DatastoreError[] = [];
  readonly watch;
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(
    store: Datastore,
    prefix: string,
    from: number | undefined,
    private readonly timeoutMs: number,
  ) {
    this.watch = store.watch(
      prefix,
      from,
      (e) => {
        this.events.push(e);
        this.waiters = this.waiters.filter((w) => (this.events.length >= w.n ? (w.resolve(), false) : true));
      },
      (e) => this.errors.push(e),
    );
  }

  waitFor(n: number): Promise<void> {
    if (this.events.length >= n) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push({ n, resolve }));
    return withTimeout(p, this.timeoutMs, () => `waiting for ${n} events, got ${JSON.stringify(this.summary())} errors ${this.errors.map((e) => e.message).join(", ")}`);
  }

  /** Waits until an event for `key` has arrived. */
  async waitForKey(key: string): Promise<void> {
    for (let n = 1; ; n = this.events.length + 1) {
      if (this.events.some((e) => e.key === key)) return;
      await this.waitFor(n);
    }
  }

  /**
   * Proves no extra events are pending: writes a sentinel under the prefix and waits for it; since
   * delivery is in revision order, anything else queued before it would show up first.
   */
  async expectQuiet(store: Datastore, prefix: string): Promise<void> {
    const n = this.events.length;
    await store.create(`${prefix}~sentinel`, "end");
    await this.waitFor(n + 1);
    expect(this.events[n]?.key).toBe(`${prefix}~sentinel`);
  }

  summary(): string[] {
    return this.events.map((e) => (e.type === "put" ? `put ${e.key}=${e.value}` : `delete ${e.key}`));
  }
}
