// Makes the simulator available as the scenario runner's "sim" backend. Imported by the CLI (and by
// anything else that wants `createBackend("sim")`); importing it twice is harmless.
import { registerBackend } from "../src/scenario/backends.ts";
import { SimBackend } from "./backend.ts";

registerBackend("sim", () => new SimBackend());
