// A private etcd for the test files that need one: started once per describe block on loopback with
// free ports and a temporary data dir, stopped (and the dir removed) in afterAll. Without the etcd
// binary the block is skipped with a printed reason, except under CI=true, where it fails instead.
import { afterAll, beforeAll, describe, test } from "@jest/globals";
import { DEFAULT_ETCD_BINARY, etcdBinary, ramDir, startEtcd } from "../../real/etcd-server.ts";
import type { EtcdServer, EtcdServerOptions } from "../../real/etcd-server.ts";

export interface EtcdHandle {
  /** The client URL of the running etcd (valid inside tests and beforeAll hooks registered later). */
  endpoint(): string;
  server(): EtcdServer;
}

/** Why etcd tests cannot run here, or undefined when they can. */
export function etcdSkipReason(): string | undefined {
  return etcdBinary() ? undefined : `etcd not found at ${process.env.BIRDCAGE_ETCD ?? DEFAULT_ETCD_BINARY} (apt-get install etcd-server)`;
}

let warned = false;

/**
 * Starts an etcd for the enclosing describe block (register it at the top of the block). Use it
 * inside describeWithEtcd, or check etcdSkipReason() yourself.
 */
export function withEtcd(options: Pick<EtcdServerOptions, "unixSocket"> = {}): EtcdHandle {
  let server: EtcdServer | undefined;
  beforeAll(async () => {
    // A throwaway etcd: its data dir in RAM when possible, since disk fsyncs dominate test time.
    server = await startEtcd({ tempParent: ramDir(), ...options });
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  }, 30_000);
  const get = (): EtcdServer => {
    if (!server) throw new Error("etcd is not running (use the handle inside tests)");
    return server;
  };
  return { endpoint: () => get().endpoint, server: get };
}

/** describe() with a private etcd, or a skip (a failure under CI=true) when etcd is not installed. */
export function describeWithEtcd(title: string, body: (etcd: EtcdHandle) => void, options: Pick<EtcdServerOptions, "unixSocket"> = {}): void {
  const reason = etcdSkipReason();
  if (reason === undefined) {
    describe(title, () => body(withEtcd(options)));
  } else if (process.env.CI === "true") {
    describe(title, () => {
      test("etcd is available (required when CI=true)", () => {
        throw new Error(reason);
      });
    });
  } else {
    if (!warned) console.warn(`skipping etcd tests: ${reason}`);
    warned = true;
    const unavailable = (): never => {
      throw new Error(reason);
    };
    describe.skip(title, () => body({ endpoint: unavailable, server: unavailable }));
  }
}
