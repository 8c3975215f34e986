/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every struct that crosses the kernel boundary: map keys and values of the datapath. The TypeScript
 * serializers (compiler/emit/bpf/layout.ts) write the same bytes; test/emit-bpf-layout.test.ts compiles this
 * header with the host compiler, prints sizeof/offsetof and checks the serializers against it.
 *
 * Byte order: addresses and ports inside LPM keys are big-endian (network order), because the LPM trie
 * compares keys bit by bit from the first data byte. Every other integer is host order (little-endian on
 * the targets we build for). table_id inside LPM keys is host order too: it is always fully inside the prefix
 * (prefixlen >= 32), so only equality matters there, never bit order.
 *
 * No implicit padding anywhere: every struct spells its padding so that the bytes TypeScript writes are the
 * bytes the kernel hashes (hash maps compare whole keys, padding included).
 *
 * This header is plain C on purpose (only linux/types.h): userspace tests include it too.
 */
#pragma once
#include <linux/types.h>

/*
 * tg_endpoints (HASH): which policy applies to a packet. One entry per (interface, direction, local address).
 * The local address is the pod's own address (destination on ingress, source on egress): several addresses
 * per pod each get their own ep_id, rules on the local address are resolved at compile time, and a source
 * address that is not the pod's is caught (managed interface + unknown local address = drop).
 * ifindex first, then the small fields, then the address, so that the 16-byte address is 8-aligned.
 */
struct tg_ep_key {
	__u32 ifindex;
	__u8 direction; /* TG_DIR_INGRESS / TG_DIR_EGRESS */
	__u8 family; /* 4 or 6 */
	__u16 pad; /* zero */
	__u8 addr[16]; /* IPv4 in bytes 0..3 (network order), the rest zero */
};

/*
 * ep_id is the policy generation of the endpoint entry: an update writes new tables under fresh ids and then
 * flips this value, so a conntrack entry that remembers an older ep_id knows the policy changed under it and
 * checks the flow again once.
 * table_id names the set of classes and decisions the entry looks up. Entries whose tables are equal (same
 * chain, family and rules admitted by the local address) share one table_id: the class and decision maps grow
 * with the number of distinct tables, not with the number of endpoints. Table ids are fresh per update too
 * (never reused), so an update never changes a table a live entry uses.
 * Rule indexes in tg_decisions are relative to the entry's own rule rows: the rule reported and counted is
 * rule_base + the decision's rule. miss_rule is absolute.
 */
struct tg_ep_value {
	__u32 ep_id;
	__u32 miss_rule; /* rule index reported when no rule matches (a tier end or the default) */
	__u32 table_id; /* key of tg_peer*, tg_port*, tg_sports and tg_decisions */
	__u32 rule_base; /* rule index of this entry's first rule row */
	__u8 miss_verdict; /* TG_VERDICT_* when no rule matches */
	__u8 flags; /* TG_EP_* */
	__u16 pad;
};

/* tg_ifaces (HASH): interfaces Tollgate manages. Key: ifindex (__u32). An interface with no entry is passed. */
struct tg_iface_value {
	__u32 flags; /* reserved, zero */
};

/*
 * tg_peer4 / tg_peer6 (LPM_TRIE): peer address -> peer class. prefixlen counts bits after the prefixlen field:
 * 32 (table_id, always whole) + the address prefix. table_id comes first so each table has its own subtree,
 * the address last because it is the wildcardable part.
 */
struct tg_peer4_key {
	__u32 prefixlen; /* 32 + address prefix length (32..64) */
	__u32 table_id;
	__u8 addr[4]; /* network order */
};

struct tg_peer6_key {
	__u32 prefixlen; /* 32 + address prefix length (32..160) */
	__u32 table_id;
	__u8 addr[16]; /* network order */
};

/*
 * tg_peer4_exact / tg_peer6_exact / tg_port_exact (HASH): the full-length entries of the same classes (pod
 * addresses /32 and /128, single ports), keyed by the same structs with prefixlen at its maximum (64, 160,
 * 56). A full-length entry is always the longest match, so a hash hit is the LPM answer; the tries hold only
 * the shorter prefixes and are looked up on a miss. Trie depth then grows only with the number of CIDR blocks
 * and port ranges, never with the number of pods or single ports.
 */

/* Value of every class trie (peer, port, source port). Class 0 = "no rule matches this dimension". */
struct tg_class_value {
	__u32 class_id;
};

/*
 * tg_ports / tg_sports (LPM_TRIE): (protocol, port) -> port class. Port is the destination (tg_ports) or source
 * (tg_sports) port; for ICMP/ICMPv6 it is type << 8 | code; for protocols without ports it is 0. Protocol
 * before port, so "any protocol" is prefixlen 32, "TCP, any port" is 40, "TCP 80" is 56, and a port range is
 * the few prefixes that cover it.
 */
struct tg_port_key {
	__u32 prefixlen; /* 32 + 8 (protocol) + 16 (port) at most */
	__u32 table_id;
	__u8 proto;
	__u8 port[2]; /* network order */
	__u8 pad; /* zero; beyond every prefix */
};

/*
 * tg_decisions (HASH): (table_id, peer class, port class, source-port class) -> verdict. Only pairs of
 * classes that share at least one rule are stored; a miss means no rule matches and takes the entry's miss
 * verdict.
 */
struct tg_decision_key {
	__u32 table_id;
	__u32 peer_class;
	__u32 port_class;
	__u32 sport_class; /* 0 unless the endpoint has TG_EP_SPORTS */
};

struct tg_decision_value {
	__u32 rule; /* rule index relative to the entry's rule_base (counters, decidedBy) */
	__u8 verdict; /* TG_VERDICT_ALLOW / TG_VERDICT_DENY */
	__u8 pad[3];
};

/*
 * tg_conntrack (LRU_HASH, shared by every program of the node): one entry per flow and endpoint direction.
 * origin is the direction the flow was first seen in from this endpoint's side, so the egress program of
 * pod A and the ingress program of pod B (same 5-tuple) keep separate entries and each decides by its own
 * policy. Addresses first (16-byte aligned), then ports, then the small fields.
 */
struct tg_ct_key {
	__u8 local[16]; /* the endpoint's address */
	__u8 peer[16];
	__u16 local_port; /* host order; ICMP echo: the identifier; 0 when the protocol has no ports */
	__u16 peer_port;
	__u8 proto;
	__u8 family;
	__u8 origin; /* TG_DIR_* of the packet that created the entry */
	__u8 pad;
};

/*
 * ifindex and gen let an established or reply packet pass without the endpoint lookup (tg_handle's fast path):
 * an entry checked against the endpoint entries under the node's current tg_gen, by the program of the same
 * interface, is still right (nothing was switched since). The key alone cannot say which interface a packet
 * came from: ifindex keeps another interface carrying this pod's address off the entry.
 */
struct tg_ct_value {
	__u64 last_seen_ns; /* tg_now() of the last packet */
	__u32 ep_id; /* ep_id (policy generation) of the origin direction when the flow was decided */
	__u32 rule; /* rule index that allowed the flow */
	__u32 ifindex; /* interface of the program that decided or last checked the entry */
	__u32 gen; /* tg_gen when the entry was decided or last checked against the endpoint entries */
	__u8 flags; /* TG_CT_* */
	__u8 pad[7];
};

/*
 * tg_gen (ARRAY, one __u32, pinned once per scope and shared by every object like tg_conntrack): the node's
 * policy generation. The loader adds one after every switch (endpoint entries written, flipped or deleted), so
 * a conntrack entry of an older gen goes through the endpoint lookup once more (and its ep_id check).
 */

/* tg_counters (PERCPU_ARRAY, indexed by rule index): packets and bytes decided by each rule. */
struct tg_counter {
	__u64 packets;
	__u64 bytes;
};

/*
 * tg_last (ARRAY, one entry): the last decision, written only when the const volatile tg_record_last is set
 * (BPF_PROG_TEST_RUN engines read it; in production the verifier removes the store).
 */
struct tg_last {
	__u32 rule;
	__u32 ep_id;
	__u8 verdict;
	__u8 reason; /* TG_REASON_* */
	__u8 pad[2];
	__u32 seq; /* incremented on every record, so a reader can tell a fresh record */
};
