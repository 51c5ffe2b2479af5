// The pcap reader lives in real/capture/pcap.ts; tests import it from here as before.
export * from "../../real/capture/pcap.ts";
