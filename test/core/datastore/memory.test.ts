import { describe, expect, test } from "@jest/globals";
import { MemoryDatastore } from "../../../src/core/datastore/memory.ts";
import { isDatastoreError } from "../../../src/core/datastore/port.ts";
import type { DatastoreError, WatchEvent } from "../../../src/core/datastore/port.ts";
import { compareKeys, SortedKeys } from "../../../src/core/datastore/sorted-keys.ts";
import { describeDatastoreContract } from "./contract.ts";
import { rng } from "../../helpers/rng.ts";

describeDatastoreContract("MemoryDatastore", () => new MemoryDatastore());

const flush = () => new Promise<void>((r) => setImmediate(r));

describe("MemoryDatastore specifics", () => {
  test("revisions follow etcd: an empty store is at 1 and the first write gets 2", async () => {
    const s = new MemoryDatastore();
    expect(await s.revision()).toBe(1);
    expect((await s.create("/a", "x")).modRevision).toBe(2);
    await expect(s.create("/a", "y")).rejects.toThrow("AlreadyExists");
    expect(await s.revision()).toBe(2);
  });

  test("watch callbacks run after the writing code, never inside it", async () => {
    const s = new MemoryDatastore();
    const log: string[] = [];
    s.watch("/", 0, (e) => log.push(`event ${e.key}`));
    const p1 = s.create("/a", "1");
    const p2 = s.create("/b", "2");
    log.push("writer done");
    await Promise.all([p1, p2]);
    await flush();
    expect(log).toEqual(["writer done", "event /a", "event /b"]);
  });

  test("the same operations give the same events and revisions (deterministic)", async () => {
    const run = async (): Promise<string[]> => {
      const s = new MemoryDatastore();
      const out: string[] = [];
      s.watch("/", undefined, (e) => out.push(`${e.revision} ${e.type} ${e.key}`));
      await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const kv = await s.create(`/k/${i % 5}/${i}`, String(i)).catch(() => undefined);
        if (kv && i % 3 === 0) await s.delete(kv.key, kv.modRevision);
      }));
      await flush();
      return out;
    };
    const a = await run();
    expect(a.length).toBe(27);
    expect(await run()).toEqual(a);
  });

  test("CAS racers do conflict (the race test is not vacuous here)", async () => {
    const s = new MemoryDatastore();
    await s.create("/c", "0");
    let conflicts = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (;;) {
        const kv = (await s.get("/c"))!;
        try {
          await s.update("/c", String(Number(kv.value) + 1), kv.modRevision);
          return;
        } catch (e) {
          if (!isDatastoreError(e, "Conflict")) throw e;
          conflicts++;
        }
      }
    }));
    expect((await s.get("/c"))!.value).toBe("4");
    expect(conflicts).toBe(3 + 2 + 1);
  });

  test("history is bounded: old revisions become Compacted, recent ones replay", async () => {
    const s = new MemoryDatastore({ historyLimit: 5 });
    const revs: number[] = [];
    for (let i = 0; i < 12; i++) revs.push((await s.create(`/h/${i}`, String(i))).modRevision);
    expect(s.compactRevision()).toBe(revs[7]);
    const errors: DatastoreError[] = [];
    s.watch("/h/", revs[6], () => undefined, (e) => errors.push(e));
    const got: WatchEvent[] = [];
    s.watch("/h/", revs[7], (e) => got.push(e));
    await flush();
    expect(errors.map((e) => e.code)).toEqual(["Compacted"]);
    expect(got.map((e) => e.key)).toEqual(["/h/7", "/h/8", "/h/9", "/h/10", "/h/11"]);
  });

  test("compact rejects a future revision and ignores an old one", async () => {
    const s = new MemoryDatastore();
    await s.create("/a", "1");
    await expect(s.compact(99)).rejects.toThrow(RangeError);
    await s.compact(2);
    await s.compact(1);
    expect(s.compactRevision()).toBe(2);
  });

  test("a watch from a future revision delivers only from there", async () => {
    const s = new MemoryDatastore();
    const got: number[] = [];
    s.watch("/", 4, (e) => got.push(e.revision));
    for (let i = 0; i < 4; i++) await s.create(`/f${i}`, "x");
    await flush();
    expect(got).toEqual([4, 5]);
  });

  test("cancelling from inside a callback stops the rest of the queue", async () => {
    const s = new MemoryDatastore();
    const got: string[] = [];
    const w = s.watch("/", 0, (e) => {
      got.push(e.key);
      w.cancel();
    });
    await s.create("/a", "1");
    await s.create("/b", "2");
    await flush();
    expect(got).toEqual(["/a"]);
  });

  test("many keys: list by prefix stays correct across chunk splits and removals", async () => {
    const s = new MemoryDatastore({ historyLimit: 0 });
    const model = new Map<string, string>();
    const rand = rng(7);
    for (let i = 0; i < 6000; i++) {
      const key = `/p/${Math.floor(rand() * 50)}/${Math.floor(rand() * 400)}`;
      if (model.has(key) && rand() < 0.5) {
        await s.delete(key);
        model.delete(key);
      } else if (!model.has(key)) {
        await s.create(key, String(i));
        model.set(key, String(i));
      }
    }
    expect(s.size).toBe(model.size);
    for (const prefix of ["", "/p/", "/p/1", "/p/1/", "/p/49/", "/q"]) {
      const want = [...model.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
      expect((await s.list(prefix)).items.map((i) => i.key)).toEqual(want);
    }
  });
});

describe("MemoryDatastore shared lists and watch groups", () => {
  test("a long list is one shared result per revision, and every write (put, update, delete) gives a fresh one", async () => {
    const s = new MemoryDatastore();
    for (let i = 0; i < 12; i++) await s.create(`/l/${String(i).padStart(2, "0")}`, String(i));
    const a = await s.list("/l/");
    const b = await s.list("/l/");
    expect(b.items).toBe(a.items);
    expect(b.revision).toBe(a.revision);
    const keys = a.items.map((kv) => kv.key);
    const c0 = await s.create("/l/99", "new");
    const c = await s.list("/l/");
    expect(c.items).not.toBe(a.items);
    expect(c.revision).toBe(c0.modRevision);
    expect(c.items.map((kv) => kv.key)).toEqual([...keys, "/l/99"]);
    expect(a.items.map((kv) => kv.key)).toEqual(keys); // the earlier result is unchanged
    // A write elsewhere is a new revision too: the list reports it.
    const other = await s.create("/other", "x");
    expect((await s.list("/l/")).revision).toBe(other.modRevision);
    const u = await s.update("/l/03", "changed", c.items[3]!.modRevision);
    const d = await s.list("/l/");
    expect(d.items[3]).toEqual(u);
    await s.delete("/l/04");
    const e = await s.list("/l/");
    expect(e.items.map((kv) => kv.key)).not.toContain("/l/04");
    expect(e.revision).toBe(await s.revision());
  });

  test("watches on overlapping prefixes are offered each event in the order they were made", async () => {
    const s = new MemoryDatastore();
    const log: string[] = [];
    const mk = (name: string, prefix: string) => s.watch(prefix, undefined, (e) => log.push(`${name} ${e.key}`));
    mk("w1", "/a/");
    const w2 = mk("w2", "/");
    mk("w3", "/a/b/");
    mk("w4", "/a/");
    mk("w5", "/c/");
    // Written without awaiting in between: all four are offered before any watch drains.
    await Promise.all([
      s.create("/a/b/1", "x"), // matches groups /a/, /, /a/b/
      s.create("/a/x", "x"), // matches /a/ and /
      s.create("/c/1", "x"), // matches / and /c/
      s.create("/d", "x"), // matches / only
    ]);
    await flush();
    // Each watch drains in its own microtask, scheduled when it is first offered an event.
    expect(log).toEqual(["w1 /a/b/1", "w1 /a/x", "w2 /a/b/1", "w2 /a/x", "w2 /c/1", "w2 /d", "w3 /a/b/1", "w4 /a/b/1", "w4 /a/x", "w5 /c/1"]);
    log.length = 0;
    w2.cancel();
    await s.create("/d2", "x"); // no watch left on "/"
    await s.create("/a/y", "x");
    const w6 = mk("w6", "/"); // a new group for "/", after the others
    await s.create("/a/z", "x");
    await flush();
    expect(log).toEqual(["w1 /a/y", "w4 /a/y", "w1 /a/z", "w4 /a/z", "w6 /a/z"]);
    w6.cancel();
  });
});

describe("SortedKeys and compareKeys", () => {
  test("compareKeys agrees with UTF-8 byte order on random strings with astral and high BMP characters", () => {
    const alphabet = ["a", "b", "/", "é", "\uE000", "\uFFFD", "\u{1F426}", "\u{10000}", "z", "\u00FF"];
    const rand = rng(42);
    const word = () => Array.from({ length: 1 + Math.floor(rand() * 5) }, () => alphabet[Math.floor(rand() * alphabet.length)]!).join("");
    for (let i = 0; i < 3000; i++) {
      const a = word();
      const b = word();
      expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
  });

  test("matches a sorted-array model under random inserts and removes", () => {
    const set = new SortedKeys();
    const model = new Set<string>();
    const rand = rng(3);
    for (let i = 0; i < 20000; i++) {
      const k = `k${Math.floor(rand() * 3000).toString(36)}`;
      if (rand() < 0.6) expect(set.insert(k)).toBe(!model.has(k)), model.add(k);
      else expect(set.remove(k)).toBe(model.delete(k));
    }
    expect(set.size).toBe(model.size);
    expect([...set.withPrefix("")]).toEqual([...model].sort(compareKeys));
    expect([...set.withPrefix("k1")]).toEqual([...model].filter((k) => k.startsWith("k1")).sort(compareKeys));
    expect(set.remove("absent")).toBe(false);
  });
});
