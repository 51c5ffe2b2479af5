// Real mode on network namespaces: naming, run ownership (state file + markers), cleanup and gc,
// the netns builder, and the containerlab alternative. See docs/real-mode.md.
export { NetnsBuilder, BuildError, ipBatch, netemUnavailable, type BuildOptions, type BuildTimings, type ExecOptions, type ExecResult, type World } from "./build.ts";
export { planNetns, netemArgs, type NetnsPlan, type PlannedElement, type PlannedInterface, type PlannedSegment } from "./plan.ts";
export { Interrupted, RunOwner, type RunOwnerOptions } from "./owner.ts";
export { classify, down, gc, observe, planGc, runViews, RunIsLive, RunNotFound, type DownResult, type GcPlan, type GcResult, type GcRunPlan, type Observed, type RunStatus, type RunView } from "./gc.ts";
export { describeObject, listNetns, removeObjects, type RemovalResult } from "./cleanup.ts";
export { CLAB_MISSING, clabPlan, clabUp, clabFile, ClabUnavailable, onPath, type ClabPlan } from "./clab.ts";
export { stateDir, DEFAULT_STATE_DIR, holderLiveness, processStartTime, type Holder, type OwnedObject, type RunState } from "./state.ts";
export * from "./names.ts";
