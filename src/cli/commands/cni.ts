// `birdcage cni`: the CNI plugin entry point (CNI spec 1.0). A container runtime executes it (through
// bin/birdcage-cni, named after the config's "type") with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
// CNI_IFNAME, CNI_ARGS in the environment and the network configuration on stdin. The result or the
// spec's error JSON goes to stdout, diagnostics to stderr; exit code 0 on success, 1 on error (the
// spec's protocol, so no --output option). See docs/cni.md.
import type { Command } from "commander";
import { cniMain } from "../../../real/cni/main.ts";

export function registerCni(program: Command): void {
  program
    .command("cni")
    .description("CNI plugin (ADD, DEL, CHECK, VERSION): env CNI_* and the network config on stdin, result JSON on stdout; see docs/cni.md")
    .action(async () => {
      process.exitCode = await cniMain();
    });
}
