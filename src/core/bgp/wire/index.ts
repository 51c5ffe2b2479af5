// The BGP-4 wire codec: messages, path attributes and capabilities to and from bytes. It knows
// nothing of sessions or tables (see docs/bgp-wire.md).
export * from "./constants.ts";
export { BgpWireError, isBgpWireError } from "./errors.ts";
export {
  checkHeader,
  decodeMessage,
  encodeMessage,
  type CodecOptions,
  type KeepaliveMessage,
  type Message,
  type NotificationMessage,
  type OpenMessage,
  type RouteRefreshMessage,
  type UpdateMessage,
} from "./messages.ts";
export type {
  Aggregator,
  AsPathSegment,
  AsPathSegmentTypeCode,
  LargeCommunity,
  MpReach,
  MpUnreach,
  PathAttributes,
  RawAttribute,
  UpdateErrorAction,
  UpdateIssue,
} from "./attributes.ts";
export {
  capabilityCode,
  findCapability,
  multiprotocolFamilies,
  negotiateAddPath,
  type AddPathFamily,
  unsupportedCapabilityData,
  type Capability,
  type CapabilityKind,
  type GracefulRestartFamily,
} from "./capabilities.ts";
export {
  allPrefixes,
  endOfRib,
  endOfRibFamily,
  keepalive,
  notificationFor,
  packUpdates,
  updateErrorAction,
  type AddressFamily,
  type UpdateBatch,
} from "./update.ts";
export { asPathAsns, asPathLength, formatAsPath, fromOldSpeaker, mergeAs4Path, toOldSpeaker } from "./as4.ts";
export { MessageFramer } from "./framer.ts";
export type { NlriPrefix } from "./prefix.ts";
export { peerAsn, formatRouterId, parseRouterId } from "./open.ts";
