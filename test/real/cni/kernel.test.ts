// Parsing of `ip -j` output (captured from iproute2 6.1) into the core's observed-state types.
import { describe, expect, test } from "@jest/globals";
import { parseLinkJson, parseRoutesJson } from "../../../real/cni/kernel.ts";

const hostLink = `[{"ifindex":2,"link_index":2,"ifname":"caliprobe0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1430,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"ee:ee:ee:ee:ee:ee","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth"},"num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"ifalias":"bc-cni:net:abc","addr_info":[{"family":"inet6","local":"fe80::ecee:eeff:feee:eeee","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]`;
const podLink = `[{"ifindex":2,"link_index":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST"],"mtu":1430,"qdisc":"noqueue","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"ether","address":"f2:c6:47:34:e7:a1","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"linkinfo":{"info_kind":"veth"},"addr_info":[{"family":"inet","local":"10.9.9.9","prefixlen":32,"scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]`;

describe("ip -j parsing", () => {
  test("links: kind, peer index, alias, up flag, addresses of both families", () => {
    expect(parseLinkJson(hostLink)).toEqual([
      { name: "caliprobe0", ifindex: 2, peerIfindex: 2, kind: "veth", mtu: 1430, up: true, mac: "ee:ee:ee:ee:ee:ee", alias: "bc-cni:net:abc", addresses: ["fe80::ecee:eeff:feee:eeee/64"] },
    ]);
    expect(parseLinkJson(podLink)[0]).toEqual(expect.objectContaining({ up: false, alias: undefined, addresses: ["10.9.9.9/32"] }));
    expect(() => parseLinkJson("{}")).toThrow(/JSON array/);
  });

  test("routes: host routes get /32, default stays, protocol as ip prints it", () => {
    expect(parseRoutesJson(`[{"dst":"default","gateway":"169.254.1.1","dev":"eth0","flags":[]},{"dst":"169.254.1.1","dev":"eth0","scope":"link","flags":[]}]`)).toEqual([
      { dst: "default", gateway: "169.254.1.1", dev: "eth0", scope: undefined, protocol: undefined },
      { dst: "169.254.1.1/32", gateway: undefined, dev: "eth0", scope: "link", protocol: undefined },
    ]);
    expect(parseRoutesJson(`[{"dst":"10.9.9.9","dev":"caliprobe0","protocol":"201","scope":"link","flags":[]}]`)[0]).toEqual(expect.objectContaining({ dst: "10.9.9.9/32", protocol: "201" }));
    expect(parseRoutesJson(`[{"dst":"10.244.0.0/26","dev":"x","flags":[]}]`)[0]!.dst).toBe("10.244.0.0/26");
    expect(parseRoutesJson(`[{"dst":"fd00::5","dev":"x","protocol":"201","metric":1024,"flags":[],"pref":"medium"}]`)[0]!.dst).toBe("fd00::5/128");
    expect(parseRoutesJson("")).toEqual([]);
  });
});
