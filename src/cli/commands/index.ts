// The list of subcommands; one line per command module.
import type { Command } from "commander";
import { registerValidate } from "./validate.ts";
import { registerPolicy } from "./policy.ts";
import { registerBgp } from "./bgp.ts";
import { registerIpam } from "./ipam.ts";
import { registerTopo } from "./topo.ts";
import { registerCni } from "./cni.ts";
import { registerReal } from "./real.ts";
import { registerRun } from "./run.ts";
import { registerAgent } from "./agent.ts";

export function registerCommands(program: Command): void {
  void program;
  registerValidate(program);
  registerPolicy(program);
  registerBgp(program);
  registerIpam(program);
  registerTopo(program);
  registerCni(program);
  registerReal(program);
  registerRun(program);
  registerAgent(program);
}
