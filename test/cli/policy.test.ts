// `birdcage policy eval` and `birdcage policy selector`: verdicts, traces, output formats, exit codes.
import { describe, expect, test } from "@jest/globals";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { repoRoot } from "../helpers/paths.ts";

const shop = join(repoRoot, "examples/resources/kubectl-list.yaml");

describe("birdcage policy eval", () => {
  test("allowed flow between pods named by namespace/name and name", async () => {
    const r = await runCli(["policy", "eval", shop, "--from", "shop/web-6d4cf56db6-x7k2p", "--to", "db-0", "--port", "5432", "--expect", "allow"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("ALLOWED");
    expect(r.stdout).toContain("ingress of workload shop/db-0: allowed by tier default, policy shop/knp.default.db-from-web, rule 0");
  });

  test("--expect mismatch exits 1 after printing the verdict", async () => {
    const r = await runCli(["policy", "eval", shop, "--from", "10.1.3.4", "--to", "10.1.7.9", "--port", "80", "--expect", "allow"]);
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toBe("DENIED");
    expect(r.stderr).toBe("birdcage: expected allow, got deny\n");
    expect(r.stdout).toContain("shop/knp.default.db-from-web rule 0: destination.ports does not match");
  });

  test("--output json carries the flow, verdict and decisions", async () => {
    const r = await runCli(["policy", "eval", shop, "--from", "10.1.3.4", "--to", "10.1.7.9", "--port", "80", "-o", "json"]);
    expect(r.code).toBe(0);
    const data = JSON.parse(r.stdout) as { flow: unknown; verdict: string; egress: { decision: unknown }; ingress: { decision: unknown } };
    expect(data.flow).toEqual({ src: "10.1.3.4", dst: "10.1.7.9", protocol: "TCP", dstPort: 80 });
    expect(data.verdict).toBe("deny");
    expect(data.egress.decision).toEqual({ kind: "end-of-tier", tier: "default" });
    expect(data.ingress.decision).toEqual({ kind: "end-of-tier", tier: "default" });
  });

  test("unknown endpoint names and bad ports are usage errors (exit 2)", async () => {
    const r = await runCli(["policy", "eval", shop, "--from", "nope", "--to", "db-0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--from nope: not an IP address and no endpoint (pod) has that name");
    const p = await runCli(["policy", "eval", shop, "--from", "db-0", "--to", "db-0", "--port", "99999"]);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain("--port must be an integer 0-65535");
  });
});

describe("birdcage policy show", () => {
  test("lists endpoints with the policies that apply per direction", async () => {
    const r = await runCli(["policy", "show", shop]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ENDPOINT\s+KIND\s+IPS\s+INGRESS\s+EGRESS$/);
    // web-egress has egress rules, so the API server's default makes it Ingress+Egress.
    expect(lines[1]).toMatch(/^shop\/web-6d4cf56db6-x7k2p\s+workload\s+10\.1\.3\.4\s+default:shop\/knp\.default\.web-egress\s+default:shop\/knp\.default\.web-egress$/);
    expect(lines[2]).toMatch(/^shop\/db-0\s+workload\s+10\.1\.7\.9\s+default:shop\/knp\.default\.db-from-web\s+-$/);
  });

  test("--endpoint with json shows effective labels", async () => {
    const r = await runCli(["policy", "show", shop, "--endpoint", "db-0", "-o", "json"]);
    expect(r.code).toBe(0);
    const data = JSON.parse(r.stdout) as { endpoints: { labels: Record<string, string> }[] };
    expect(data.endpoints).toHaveLength(1);
    expect(data.endpoints[0]?.labels).toMatchObject({ app: "db", "pcns.team": "web", "pcns.projectcalico.org/name": "shop" });
  });
});

describe("examples/policy/tiers.yaml", () => {
  const tiers = join(repoRoot, "examples/policy/tiers.yaml");
  test("the security tier denies the blocklist before the default tier is reached", async () => {
    const bad = await runCli(["policy", "eval", tiers, "--from", "203.0.113.9", "--to", "shop/web-1", "--port", "8080", "--expect", "deny"]);
    expect(bad.code).toBe(0);
    expect(bad.stdout).toContain("denied by tier security, policy security.quarantine, rule 0");
    const ok = await runCli(["policy", "eval", tiers, "--from", "198.51.100.7", "--to", "shop/web-1", "--port", "8080", "--expect", "allow"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("end of tier security: passed to the next tier");
    const cross = await runCli(["policy", "eval", tiers, "--from", "batch/job-1", "--to", "shop/db-0", "--port", "5432", "--expect", "deny"]);
    expect(cross.code).toBe(0);
  });
});

describe("birdcage policy matrix", () => {
  test("positional files still work; self-traffic is allowed", async () => {
    const r = await runCli(["policy", "matrix", shop, "--probes", "5432/TCP"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "5432/TCP:\n-                        \tshop/web-6d4cf56db6-x7k2p\tshop/db-0\nshop/web-6d4cf56db6-x7k2p\t.\t.\nshop/db-0                \tX\t.\n",
    );
  });
});

describe("birdcage policy selector", () => {
  test("canonical form, unique id and matches", async () => {
    const r = await runCli(["policy", "selector", "", "-o", "json", "--labels", "a=b"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      selector: "",
      canonical: "all()",
      uniqueId: "s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug",
      tests: [{ labels: { a: "b" }, matches: true }],
    });
  });

  test("a parse error shows the column with a caret and exits 2", async () => {
    const r = await runCli(["policy", "selector", "a == 'b' && c = 'd'"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("birdcage: invalid selector: expected == at column 15\n  a == 'b' && c = 'd'\n                ^\n");
  });
});
