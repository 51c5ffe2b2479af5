// The public core API, importable as "birdcage/core". Pure TypeScript: runs in Node, Deno and the simulator.
export {
  parseSelector,
  selectorFromAst,
  validateSelector,
  isValidLabel,
  prefixLabels,
  SelectorParseError,
  type Selector,
  type SelectorNode,
  type Labels,
} from "./policy/selector/index.ts";
export { makeUniqueId, lengthLimitedId, felixIpSetName } from "./policy/unique-id.ts";
export { sha224, sha256, base64UrlNoPad } from "./net/sha2.ts";
export * from "./policy/index.ts";
// Resources, addresses, the datastore port and IPAM, for tools that embed birdcage's model.
export {
  loadResources,
  loadResourceFiles,
  loadIcpConfig,
  InputError,
  formatProblems,
  type Problem,
  type IPPool,
  type IPAMConfiguration,
  type Pod,
  type Namespace,
} from "./model/index.ts";
export { parseIP, parsePrefix, formatPrefix, formatIP, type Prefix, type IPAddress, type Family } from "./net/ip.ts";
export { DatastoreError, isDatastoreError, type Datastore, type KeyValue, type WatchEvent } from "./datastore/port.ts";
export { MemoryDatastore } from "./datastore/memory.ts";
export { Ipam, IpamError, planIpam, checkIpam, type PlanResult, type CheckReport } from "./ipam/index.ts";
