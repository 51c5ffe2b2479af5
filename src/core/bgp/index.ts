// The BGP speaker core (docs/bgp.md): sessions, RIBs, decision process, route reflection, graceful
// restart, Calico's export semantics. Pure TypeScript on the ports in ports.ts; the codec is in wire/.
export type { Clock, CloseReason, ConnectOptions, Connection, Listener, RouteChanges, RouteEntry, RouteSink, TimerHandle, Transport } from "./ports.ts";
export { addCounters, countEncoded, countMessage, newMessageCounters, newPeerCounters, type MessageCounters, type PeerCounters } from "./counters.ts";
export { ManualClock } from "./manual-clock.ts";
export { LoopbackNetwork } from "./loopback.ts";
export { Session, calicoPassive, BGP_PORT, type DownInfo, type Negotiated, type SessionConfig, type SessionEvents, type SessionState } from "./session.ts";
export { bestPath, comparePaths, neighbourAs, DEFAULT_LOCAL_PREF, type DecisionOptions, type Path, type PathSource } from "./decision.ts";
export {
  Speaker,
  type ExportPolicy,
  type ImportPolicy,
  type PeerConfig,
  type PeerStatus,
  type PolicyResult,
  type RouteStatus,
  type RouteView,
  type SpeakerConfig,
  type SpeakerPorts,
} from "./speaker.ts";
export { calicoExport, calicoExportPolicy, calicoOriginatedRoutes, type CalicoExportInput, type CalicoPool, type OriginatedRoute } from "./calico-export.ts";
