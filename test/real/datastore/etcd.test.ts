import { afterAll, describe, expect, test } from "@jest/globals";
import { EtcdDatastore } from "../../../real/datastore/etcd.ts";
import { freePorts } from "../../../real/etcd-server.ts";
import { isDatastoreError } from "../../../src/core/datastore/port.ts";
import { describeDatastoreContract } from "../../core/datastore/contract.ts";
import { describeWithEtcd } from "../../helpers/etcd.ts";

let nsCounter = 0;
const freshNamespace = () => `test-${process.pid}-${Date.now().toString(36)}-${nsCounter++}`;

describeWithEtcd("EtcdDatastore", (etcd) => {
  const opened: EtcdDatastore[] = [];
  const open = (namespace: string) => {
    const s = new EtcdDatastore({ endpoints: etcd.endpoint(), namespace });
    opened.push(s);
    return s;
  };
  afterAll(async () => {
    for (const s of opened) await s.close();
  });

  describeDatastoreContract("EtcdDatastore", () => open(freshNamespace()), {
    openAnother: (s) => open((s as EtcdDatastore).namespace),
  });

  describe("etcd specifics", () => {
    test("keys are stored under /birdcage/<namespace>/ and namespaces do not see each other", async () => {
      const ns = freshNamespace();
      const a = open(ns);
      const b = open(freshNamespace());
      await a.create("/calico/ipam/v2/config", "{}");
      expect(await b.get("/calico/ipam/v2/config")).toBeUndefined();
      expect((await b.list("")).items).toEqual([]);
      const raw = open("raw-view");
      // A view from the root: the same key, seen with its full etcd path through the raw client.
      const { Etcd3 } = await import("etcd3");
      const client = new Etcd3({ hosts: etcd.endpoint() });
      try {
        expect(await client.get(`/birdcage/${ns}//calico/ipam/v2/config`).string()).toBe("{}");
      } finally {
        client.close();
      }
      await raw.close();
    });

    test("list returns more than gRPC's default 4 MiB message limit", async () => {
      const s = open(freshNamespace());
      const value = "y".repeat(500 * 1024);
      for (let i = 0; i < 12; i++) await s.create(`/big/${String(i).padStart(2, "0")}`, value);
      const r = await s.list("/big/");
      expect(r.items).toHaveLength(12);
      expect(r.items.every((kv) => kv.value === value)).toBe(true);
      await s.deleteNamespace();
    });

    test("a value over etcd's request limit is a RangeError, not Unavailable", async () => {
      const s = open(freshNamespace());
      await expect(s.create("/huge", "z".repeat(2 * 1024 * 1024))).rejects.toThrow(RangeError);
      const kv = await s.create("/huge", "ok");
      await expect(s.update("/huge", "z".repeat(1600 * 1024), kv.modRevision)).rejects.toThrow(RangeError);
      // Nothing was sent, so the client is not left failing fast on its circuit breaker.
      expect((await s.get("/huge"))?.value).toBe("ok");
      // With the client check lifted, etcd's own refusal is a RangeError too.
      const loose = new EtcdDatastore({ endpoints: etcd.endpoint(), namespace: freshNamespace(), maxRequestBytes: 64 * 1024 * 1024 });
      opened.push(loose);
      await expect(loose.create("/huge", "z".repeat(1600 * 1024))).rejects.toThrow(RangeError);
    });

    test("a bad namespace is rejected", () => {
      expect(() => new EtcdDatastore({ endpoints: etcd.endpoint(), namespace: "a/b" })).toThrow(TypeError);
      expect(() => new EtcdDatastore({ endpoints: etcd.endpoint(), namespace: "" })).toThrow(TypeError);
    });

    test("deleteNamespace removes only that namespace's keys", async () => {
      const a = open(freshNamespace());
      const b = open(freshNamespace());
      await a.create("/x", "1");
      await b.create("/x", "2");
      await a.deleteNamespace();
      expect(await a.get("/x")).toBeUndefined();
      expect((await b.get("/x"))?.value).toBe("2");
    });
  });
});

describe("EtcdDatastore without a server", () => {
  test("requests to an endpoint where nothing listens fail with Unavailable", async () => {
    const [port] = await freePorts(1);
    const s = new EtcdDatastore({ endpoints: `http://127.0.0.1:${port}`, namespace: "nobody", requestTimeoutMs: 1000, dialTimeoutMs: 1000 });
    try {
      const e = await s.get("/k").catch((err: unknown) => err);
      expect(isDatastoreError(e, "Unavailable")).toBe(true);
      const e2 = await s.create("/k", "v").catch((err: unknown) => err);
      expect(isDatastoreError(e2, "Unavailable")).toBe(true);
    } finally {
      await s.close();
    }
  });
});
