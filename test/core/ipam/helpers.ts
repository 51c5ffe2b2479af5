// Shared test helpers for IPAM: a fresh in-memory store, a full dump of it, and a race injector.
import { MemoryDatastore } from "../../../src/core/datastore/memory.ts";
import type { Datastore, KeyValue, ListResult, Watch, WatchEvent } from "../../../src/core/datastore/port.ts";
import type { DatastoreError } from "../../../src/core/datastore/port.ts";

export const newStore = (): MemoryDatastore => new MemoryDatastore();

/** Every key and value under the IPAM root, for before/after comparisons. */
export async function dump(ds: Datastore): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const kv of (await ds.list("/calico/ipam/v2/")).items) out[kv.key] = kv.value;
  return out;
}

export async function json(ds: Datastore, key: string): Promise<unknown> {
  const kv = await ds.get(key);
  return kv ? JSON.parse(kv.value) : undefined;
}

/** A Datastore that runs `beforeCreate` just before each create reaches the real store (to inject races). */
export class HookedDatastore implements Datastore {
  beforeCreate: ((key: string) => Promise<void>) | undefined;
  constructor(readonly inner: Datastore) {}
  get(key: string): Promise<KeyValue | undefined> {
    return this.inner.get(key);
  }
  list(prefix: string): Promise<ListResult> {
    return this.inner.list(prefix);
  }
  async create(key: string, value: string): Promise<KeyValue> {
    const hook = this.beforeCreate;
    if (hook) await hook(key);
    return this.inner.create(key, value);
  }
  update(key: string, value: string, revision: number): Promise<KeyValue> {
    return this.inner.update(key, value, revision);
  }
  delete(key: string, revision?: number): Promise<void> {
    return this.inner.delete(key, revision);
  }
  watch(prefix: string, from: number | undefined, onEvent: (e: WatchEvent) => void, onError?: (e: DatastoreError) => void): Watch {
    return this.inner.watch(prefix, from, onEvent, onError);
  }
  revision(): Promise<number> {
    return this.inner.revision();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
