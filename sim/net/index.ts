// The simulated network: FIBs, forwarding with encapsulation, MTU and policy, explained probes.
export { SimNetwork, type TraceSpec, type TraceResult, type UnderlayResult, type LinkRef, type PacketHook, type PacketInfo } from "./network.ts";
export { SimDataplane, SimRouteSink } from "./dataplane.ts";
export { Fib, EntryInterner, flowHash, pickNextHop, type FibEntry, type RouteOwner, type RouteSource } from "./fib.ts";
