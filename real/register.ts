// Makes real mode (network namespaces, etcd, agents) available as the scenario runner's "real"
// backend. Imported by the CLI (`birdcage run --mode real|both`); importing it twice is harmless.
import { registerBackend } from "../src/scenario/backends.ts";
import { RealBackend } from "./backend.ts";

registerBackend("real", () => new RealBackend());
