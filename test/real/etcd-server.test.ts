import { afterAll, describe, expect, test } from "@jest/globals";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtcdDatastore } from "../../real/datastore/etcd.ts";
import { freePorts, ramDir, startEtcd } from "../../real/etcd-server.ts";
import type { EtcdServer } from "../../real/etcd-server.ts";
import { isDatastoreError } from "../../src/core/datastore/port.ts";
import type { WatchEvent } from "../../src/core/datastore/port.ts";
import { etcdSkipReason } from "../helpers/etcd.ts";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const reason = etcdSkipReason();
const suite = reason === undefined || process.env.CI === "true" ? describe : describe.skip;
if (reason !== undefined && process.env.CI !== "true") console.warn(`skipping etcd server tests: ${reason}`);

suite("etcd server process management", () => {
  const started: EtcdServer[] = [];
  afterAll(async () => {
    for (const s of started) await s.stop();
  });

  test("starts two members on distinct loopback ports, and stop() ends the process and removes the data dir", async () => {
    const [a, b] = await Promise.all([startEtcd({ tempParent: ramDir() }), startEtcd({ tempParent: ramDir() })]);
    started.push(a!, b!);
    expect(a!.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new Set([a!.clientPort, a!.peerPort, b!.clientPort, b!.peerPort]).size).toBe(4);
    const res = await fetch(`${a!.endpoint}/health`, { headers: { connection: "close" } });
    expect(await res.json()).toEqual({ health: "true" });
    expect(alive(a!.pid)).toBe(true);
    expect(existsSync(a!.dataDir)).toBe(true);
    await a!.stop();
    expect(alive(a!.pid)).toBe(false);
    expect(existsSync(a!.dataDir)).toBe(false);
    await a!.stop(); // idempotent
    expect(alive(b!.pid)).toBe(true);
    await b!.stop();
    expect(alive(b!.pid)).toBe(false);
  });

  test("a missing binary is a clear error", async () => {
    await expect(startEtcd({ binary: "/nonexistent/etcd" })).rejects.toThrow("etcd binary not found");
  });

  test("a fixed port already taken makes start fail instead of reporting someone else's etcd", async () => {
    const a = await startEtcd({ tempParent: ramDir() });
    started.push(a);
    await expect(startEtcd({ tempParent: ramDir(), clientPort: a.clientPort, startTimeoutMs: 10_000 })).rejects.toThrow(`127.0.0.1:${a.clientPort} is already in use`);
  });

  test("a hung etcd (SIGSTOP): requests fail with Unavailable after the request timeout, and work again after SIGCONT", async () => {
    const server = await startEtcd({ tempParent: ramDir() });
    started.push(server);
    const store = new EtcdDatastore({ endpoints: server.endpoint, namespace: "hang", requestTimeoutMs: 300 });
    try {
      await store.create("/k", "v");
      process.kill(server.pid, "SIGSTOP");
      try {
        const e = await store.get("/k").catch((err: unknown) => err);
        expect(isDatastoreError(e, "Unavailable") ? "Unavailable" : e).toBe("Unavailable");
        expect((e as Error).message).toMatch(/deadline|unavailable/i);
      } finally {
        process.kill(server.pid, "SIGCONT");
      }
      expect(await until("etcd answering again", async () => (await store.get("/k"))?.value)).toBe("v");
    } finally {
      await store.close();
    }
  }, 60_000);

  test("an outage: requests fail with Unavailable, then after a restart a watch resumes with every event exactly once", async () => {
    const dataDir = await mkdtemp(join(ramDir() ?? tmpdir(), "bc-etcd-keep-"));
    const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    let server: EtcdServer | undefined;
    const store = new EtcdDatastore({ endpoints: `http://127.0.0.1:${clientPort}`, namespace: "outage", requestTimeoutMs: 2000, dialTimeoutMs: 2000 });
    try {
      server = await startEtcd({ dataDir, clientPort, peerPort });
      const events: WatchEvent[] = [];
      const first = await store.create("/o/0", "before");
      store.watch("/o/", first.modRevision, (e) => events.push(e));
      await until("first event", async () => (events.length >= 1 ? true : undefined));

      await server.stop();
      const down = await store.get("/o/0").catch((e: unknown) => e);
      expect(isDatastoreError(down, "Unavailable")).toBe(true);

      server = await startEtcd({ dataDir, clientPort, peerPort });
      // etcd3's circuit breaker keeps failing fast for a few seconds after the outage.
      await until("etcd back", async () => ((await store.get("/o/0"))?.value === "before" ? true : undefined));
      for (let i = 1; i <= 5; i++) await store.create(`/o/${i}`, `after-${i}`);
      await until("resumed watch", async () => (events.length >= 6 ? true : undefined));
      await store.create("/o/sentinel", "end");
      await until("sentinel", async () => (events.length >= 7 ? true : undefined));
      expect(events.map((e) => `${e.key}=${e.value}`)).toEqual(["/o/0=before", "/o/1=after-1", "/o/2=after-2", "/o/3=after-3", "/o/4=after-4", "/o/5=after-5", "/o/sentinel=end"]);
    } finally {
      await store.close();
      await server?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test("etcd killed while a watch replays a long history: after a restart the watch resumes where delivery stopped", async () => {
    const dataDir = await mkdtemp(join(ramDir() ?? tmpdir(), "bc-etcd-keep-"));
    const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    let server: EtcdServer | undefined;
    const store = new EtcdDatastore({ endpoints: `http://127.0.0.1:${clientPort}`, namespace: "replay", requestTimeoutMs: 5000 });
    try {
      server = await startEtcd({ dataDir, clientPort, peerPort });
      // 3,000 revisions of 1 KiB values: etcd replays them in batches of up to 1,000 revisions, each
      // batch under the newest header revision.
      const N = 3000;
      const value = "x".repeat(1024);
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = next++; i < N; i = next++) await store.create(`/r/${String(i).padStart(5, "0")}`, value);
        }),
      );
      const events: WatchEvent[] = [];
      const victim = server;
      // From revision 1, the very beginning of this fresh etcd's history.
      store.watch("/r/", 1, (e) => {
        events.push(e);
        if (events.length === 1) process.kill(victim.pid, "SIGKILL");
      });
      await until("the first event", async () => (events.length > 0 ? true : undefined));
      await server.stop();
      const beforeRestart = events.length;
      server = await startEtcd({ dataDir, clientPort, peerPort });
      await until(`all ${N} events (had ${beforeRestart} before the restart)`, async () => (events.length >= N ? true : undefined), 40_000);
      await store.create("/r/~sentinel", "end");
      await until("the sentinel", async () => (events.length >= N + 1 ? true : undefined));
      expect(events).toHaveLength(N + 1);
      expect(new Set(events.map((e) => e.key)).size).toBe(N + 1);
      for (let i = 1; i < events.length; i++) expect(events[i]!.revision).toBeGreaterThan(events[i - 1]!.revision);
    } finally {
      await store.close();
      await server?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
