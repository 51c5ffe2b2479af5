// Scenarios (issue 5): the file format (schema.ts, load.ts), the loaded model (model.ts), the Backend
// interface both worlds implement (backend.ts) and their registry (backends.ts), the runner
// (runner.ts), assertion verdicts (assertions.ts) and the result model (result.ts). Mode-agnostic:
// nothing here imports sim/ or real/. See docs/scenarios.md.
export type * from "./backend.ts";
export type * from "./result.ts";
export { createBackend, hasBackend, NoBackendError, registerBackend, registeredModes, unregisterBackend, type BackendFactory } from "./backends.ts";
export { formatDuration, parseDuration } from "./duration.ts";
export { loadScenario, looksLikeScenario, MAX_PODS_PER_STEP, parseScenario, type ScenarioParseResult } from "./load.ts";
export { endpointText, flowToProbe, targetText, type AssertionBody, type AssertionSpec, type Count, type Flow, type MessageField, type Scenario, type Step } from "./model.ts";
export { countHolds, countText, defaultAssertionName, flowText } from "./names.ts";
export { SCENARIO_API_VERSION } from "./schema.ts";
export * from "./assertions.ts";
export { effectiveSeed, MAX_SAMPLES_PER_STEP, runScenario, sortRoutes, sortSessions, topologyFacts, type RunOptions } from "./runner.ts";
export { compareRuns, differences, observationMatches, observationProblem, OBSERVATION_KINDS, type Comparison, type Difference, type KnownDifference } from "./compare.ts";
