// The simulator. So far: the event engine (virtual clock, agenda, seeded randomness). Simulated
// nodes, links and forwarding come next. See docs/topology.md.
export { SimEngine, type EngineOptions, type EngineStats, type RunOptions, type RunResult, type SimEvent, type StopReason } from "./engine.ts";
export { RandomStream, SeededRandom } from "./random.ts";
