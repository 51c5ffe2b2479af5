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
