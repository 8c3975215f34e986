// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Tollgate datapath: classify once, decide by table (docs/design.md, "The BPF datapath").
 *
 * A new flow is decided with a fixed number of map lookups whatever the number of rules:
 *   endpoint (hash) -> peer class (LPM) -> port class (LPM) [-> source-port class (LPM)] -> decision (hash).
 * Conntrack (LRU hash, shared) lets established and reply packets pass without policy, and without the endpoint
 * lookup when their entry was checked under the node's current policy generation on the same interface (tg_gen):
 * an established packet costs the parse, one conntrack lookup and the rule's counter.
 *
 * This file is included by a small generated per-node file that sets the compile-time shape (#define
 * TG_MAX_*, TG_HAVE_SPORTS) before the #include; the defaults below make it compile on its own.
 * Policy never appears here: it is all in the maps.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tollgate_maps.h"
#include "verdicts.h"

#ifndef TG_MAX_ENDPOINTS
#define TG_MAX_ENDPOINTS 4096
#endif
#ifndef TG_MAX_PEER4
#define TG_MAX_PEER4 65536
#endif
#ifndef TG_MAX_PEER6
#define TG_MAX_PEER6 65536
#endif
#ifndef TG_MAX_PORTS
#define TG_MAX_PORTS 65536
#endif
#ifndef TG_MAX_PEER4_EXACT
#define TG_MAX_PEER4_EXACT 65536
#endif
#ifndef TG_MAX_PEER6_EXACT
#define TG_MAX_PEER6_EXACT 65536
#endif
#ifndef TG_MAX_PORTS_EXACT
#define TG_MAX_PORTS_EXACT 65536
#endif
#ifndef TG_MAX_SPORTS
#define TG_MAX_SPORTS 1024
#endif
#ifndef TG_MAX_DECISIONS
#define TG_MAX_DECISIONS 262144
#endif
#ifndef TG_MAX_RULES
#define TG_MAX_RULES 65536
#endif
#ifndef TG_MAX_CONNTRACK
#define TG_MAX_CONNTRACK 262144
#endif
#ifndef TG_HAVE_SPORTS
#define TG_HAVE_SPORTS 1
#endif
/* IPv6 extension headers skipped before giving up (hop-by-hop, routing, destination options). */
#define TG_MAX_EXTHDRS 4

/* Load-time configuration: set before load (BpfObject.setConst); the verifier prunes on them. */
const volatile __u64 tg_ct_timeout_tcp_ns = 7200ULL * 1000000000ULL; /* established TCP, idle */
const volatile __u64 tg_ct_timeout_tcp_closing_ns = 10ULL * 1000000000ULL; /* after a FIN */
const volatile __u64 tg_ct_timeout_udp_ns = 60ULL * 1000000000ULL;
const volatile __u64 tg_ct_timeout_other_ns = 60ULL * 1000000000ULL; /* ICMP echo, other protocols */
const volatile __u8 tg_record_last = 0; /* write tg_last on every packet (test runs only) */
const volatile __u32 tg_hz = 0; /* CONFIG_HZ for tg_now, set at open (compiler/load/hz.ts); 0: unknown */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TG_MAX_ENDPOINTS);
	__type(key, struct tg_ep_key);
	__type(value, struct tg_ep_value);
} tg_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TG_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct tg_iface_value);
} tg_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, TG_MAX_PEER4);
	__type(key, struct tg_peer4_key);
	__type(value, struct tg_class_value);
} tg_peer4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, TG_MAX_PEER6);
	__type(key, struct tg_peer6_key);
	__type(value, struct tg_class_value);
} tg_peer6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TG_MAX_PEER4_EXACT);
	__type(key, struct tg_peer4_key);
	__type(value, struct tg_class_value);
} tg_peer4_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TG_MAX_PEER6_EXACT);
	__type(key, struct tg_peer6_key);
	__type(value, struct tg_class_value);
} tg_peer6_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TG_MAX_PORTS_EXACT);
	__type(key, struct tg_port_key);
	__type(value, struct tg_class_value);
} tg_port_exact SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, TG_MAX_PORTS);
	__type(key, struct tg_port_key);
	__type(value, struct tg_class_value);
} tg_ports SEC(".maps");

#if TG_HAVE_SPORTS
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, TG_MAX_SPORTS);
	__type(key, struct tg_port_key);
	__type(value, struct tg_class_value);
} tg_sports SEC(".maps");
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TG_MAX_DECISIONS);
	__type(key, struct tg_decision_key);
	__type(value, struct tg_decision_value);
} tg_decisions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TG_MAX_CONNTRACK);
	__type(key, struct tg_ct_key);
	__type(value, struct tg_ct_value);
} tg_conntrack SEC(".maps");

/* The node's policy generation (tollgate_maps.h): pinned once, shared like tg_conntrack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tg_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TG_MAX_RULES);
	__type(key, __u32);
	__type(value, struct tg_counter);
} tg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tg_last);
} tg_last SEC(".maps");

/*
 * What the parser found. Ports are host order; for ICMP dport is type << 8 | code. The addresses go straight to
 * where tg_handle keeps them (its conntrack key), not through copies here: an established UDP packet of the
 * 10,000-rule bench program took 117 ns in BPF_PROG_TEST_RUN with the copies, 110 without (medians of 7
 * alternating runs).
 */
struct tg_pkt {
	__u8 *src; /* where the parser writes the addresses (16 bytes each, zeroed by the caller) */
	__u8 *dst;
	__u16 sport;
	__u16 dport;
	__u16 echo_id; /* ICMP echo identifier */
	__u8 family; /* 4, 6, or 0 = not IP */
	__u8 proto;
	__u8 l4; /* TG_L4_* */
	__u8 tcp_flags; /* TG_TCP_* */
	__u8 icmp_echo; /* 1 = ICMP echo request or reply (conntrack by identifier) */
	__u8 nd; /* IPv6 neighbour discovery */
};

#define TG_L4_OK 0 /* ports (or ICMP type/code) parsed */
#define TG_L4_NOPORTS 1 /* protocol without ports: ports are 0 */
#define TG_L4_FRAGMENT 2 /* IPv4 fragment or IPv6 fragment header: L4 not looked at */
#define TG_L4_EXTHDR 3 /* IPv6 extension header not parsed (AH, ESP, too many, ...) */

#define TG_TCP_SYN 1
#define TG_TCP_ACK 2
#define TG_TCP_FIN 4
#define TG_TCP_RST 8

#define TG_PARSE_OK 0
#define TG_PARSE_NOT_IP 1
#define TG_PARSE_MALFORMED 2

static __always_inline int tg_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE;
}

/* Reads the L4 header at off. Every access is checked against data_end before it is made. */
static __always_inline int tg_parse_l4(void *data, void *data_end, __u32 off, struct tg_pkt *p)
{
	/* Keep off small and known to the verifier: pointer + bounded scalar. */
	if (off > 512)
		return TG_PARSE_MALFORMED;
	void *l4 = data + off;

	if (tg_has_ports(p->proto)) {
		/*
		 * TCP, UDP, SCTP and UDP-Lite all start with source port, destination port. One bounds check
		 * covers every byte read below (the whole TCP header for TCP), so the compiler cannot move a
		 * read ahead of its check onto a register the verifier has not seen checked.
		 */
		__u32 need = p->proto == IPPROTO_TCP ? sizeof(struct tcphdr) : 4;
		__u8 *b = l4;
		if (need == sizeof(struct tcphdr)) {
			if ((void *)(b + sizeof(struct tcphdr)) > data_end)
				return TG_PARSE_MALFORMED;
			__u8 f = b[13]; /* CWR ECE URG ACK PSH RST SYN FIN */
			p->tcp_flags = ((f & 0x02) ? TG_TCP_SYN : 0) | ((f & 0x10) ? TG_TCP_ACK : 0) |
				       ((f & 0x01) ? TG_TCP_FIN : 0) | ((f & 0x04) ? TG_TCP_RST : 0);
		} else if ((void *)(b + 4) > data_end) {
			return TG_PARSE_MALFORMED;
		}
		p->sport = ((__u16)b[0] << 8) | b[1];
		p->dport = ((__u16)b[2] << 8) | b[3];
		p->l4 = TG_L4_OK;
		return TG_PARSE_OK;
	}
	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
		/* type, code, checksum, then (for echo) identifier, sequence */
		if (l4 + 8 > data_end)
			return TG_PARSE_MALFORMED;
		__u8 *b = l4;
		__u8 type = b[0];
		p->dport = ((__u16)type << 8) | b[1];
		p->sport = 0;
		if ((p->proto == IPPROTO_ICMP && (type == 8 || type == 0)) ||
		    (p->proto == IPPROTO_ICMPV6 && (type == 128 || type == 129))) {
			p->icmp_echo = 1;
			p->echo_id = ((__u16)b[4] << 8) | b[5];
		}
		/* Link-local control: MLD (130-132, 143) and neighbour discovery (133-137). */
		if (p->proto == IPPROTO_ICMPV6 && ((type >= 130 && type <= 137) || type == 143))
			p->nd = 1;
		p->l4 = TG_L4_OK;
		return TG_PARSE_OK;
	}
	p->l4 = TG_L4_NOPORTS;
	return TG_PARSE_OK;
}

static __always_inline int tg_parse(struct __sk_buff *skb, struct tg_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return TG_PARSE_NOT_IP;
	__u32 off = sizeof(*eth);

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;
		if ((void *)(ip + 1) > data_end)
			return TG_PARSE_MALFORMED;
		if (ip->version != 4 || ip->ihl < 5)
			return TG_PARSE_MALFORMED;
		p->family = 4;
		p->proto = ip->protocol;
		__builtin_memcpy(p->src, &ip->saddr, 4);
		__builtin_memcpy(p->dst, &ip->daddr, 4);
		/* Any fragment (more-fragments set or offset non-zero) is not looked into: see design.md. */
		if (ip->frag_off & bpf_htons(0x3fff)) {
			p->l4 = TG_L4_FRAGMENT;
			return TG_PARSE_OK;
		}
		off += ip->ihl * 4; /* 20..60: bounded by the 4-bit field */
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		if ((void *)(ip6 + 1) > data_end)
			return TG_PARSE_MALFORMED;
		if (ip6->version != 6)
			return TG_PARSE_MALFORMED;
		p->family = 6;
		__builtin_memcpy(p->src, &ip6->saddr, 16);
		__builtin_memcpy(p->dst, &ip6->daddr, 16);
		__u8 next = ip6->nexthdr;
		off += sizeof(*ip6);
		/* Skip the extension headers we can read safely: a fixed, unrolled number of them. */
#pragma unroll
		for (int i = 0; i < TG_MAX_EXTHDRS; i++) {
			if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
			    next != IPPROTO_DSTOPTS)
				break;
			if (off > 256)
				return TG_PARSE_MALFORMED;
			__u8 *opt = data + off;
			if ((void *)(opt + 2) > data_end)
				return TG_PARSE_MALFORMED;
			next = opt[0];
			off += ((__u32)opt[1] + 1) * 8;
		}
		p->proto = next;
		if (next == IPPROTO_FRAGMENT) {
			p->l4 = TG_L4_FRAGMENT;
			return TG_PARSE_OK;
		}
		if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS ||
		    next == IPPROTO_AH || next == IPPROTO_ESP || next == 135 /* mobility */ ||
		    next == 139 /* HIP */ || next == 140 /* shim6 */) {
			p->l4 = TG_L4_EXTHDR;
			return TG_PARSE_OK;
		}
	} else {
		return TG_PARSE_NOT_IP;
	}
	/*
	 * One L4 parse for both families (one inlined copy, not two): the object shrank from 2840 to 2487
	 * instructions and the verifier processes about 5% fewer; the IPv4 path pays a jump to here and a spill
	 * (about 4 instructions), within the noise of BPF_PROG_TEST_RUN timings.
	 */
	return tg_parse_l4(data, data_end, off, p);
}

static __always_inline void tg_count(__u32 rule, __u32 len)
{
	struct tg_counter *c = bpf_map_lookup_elem(&tg_counters, &rule);
	if (c) {
		c->packets += 1;
		c->bytes += len;
	}
}

static __always_inline void tg_record(__u32 rule, __u32 ep_id, __u8 verdict, __u8 reason)
{
	if (!tg_record_last)
		return;
	__u32 zero = 0;
	struct tg_last *l = bpf_map_lookup_elem(&tg_last, &zero);
	if (l) {
		l->rule = rule;
		l->ep_id = ep_id;
		l->verdict = verdict;
		l->reason = reason;
		l->seq += 1;
	}
}

struct tg_result {
	__u32 rule;
	__u8 verdict;
};

/*
 * The policy decision for a flow, from the endpoint's point of view: the peer address and the (protocol,
 * destination port, source port) of the flow's first packet (a reply checked again passes them swapped).
 * Four or five lookups.
 */
static __always_inline void tg_decide(const struct tg_ep_value *ep, __u8 family, const __u8 *peer,
				      __u8 proto, __u16 dport, __u16 sport, struct tg_result *res)
{
	struct tg_class_value *cv;
	struct tg_decision_key dk = { .table_id = ep->table_id };

	/* Full-length entries in a hash, shorter prefixes in the trie; each only when the endpoint has some. */
	cv = 0;
	if (family == 4) {
		struct tg_peer4_key k4 = { .prefixlen = 64, .table_id = ep->table_id };
		__builtin_memcpy(k4.addr, peer, 4);
		if (ep->flags & TG_EP_PEER_EXACT)
			cv = bpf_map_lookup_elem(&tg_peer4_exact, &k4);
		if (!cv && (ep->flags & TG_EP_PEER_LPM))
			cv = bpf_map_lookup_elem(&tg_peer4, &k4);
	} else {
		struct tg_peer6_key k6 = { .prefixlen = 160, .table_id = ep->table_id };
		__builtin_memcpy(k6.addr, peer, 16);
		if (ep->flags & TG_EP_PEER_EXACT)
			cv = bpf_map_lookup_elem(&tg_peer6_exact, &k6);
		if (!cv && (ep->flags & TG_EP_PEER_LPM))
			cv = bpf_map_lookup_elem(&tg_peer6, &k6);
	}
	if (cv)
		dk.peer_class = cv->class_id;

	struct tg_port_key pk = { .prefixlen = 56, .table_id = ep->table_id, .proto = proto };
	pk.port[0] = dport >> 8;
	pk.port[1] = dport & 0xff;
	cv = 0;
	if (ep->flags & TG_EP_PORT_EXACT)
		cv = bpf_map_lookup_elem(&tg_port_exact, &pk);
	if (!cv && (ep->flags & TG_EP_PORT_LPM))
		cv = bpf_map_lookup_elem(&tg_ports, &pk);
	if (cv)
		dk.port_class = cv->class_id;

#if TG_HAVE_SPORTS
	if (ep->flags & TG_EP_SPORTS) {
		pk.port[0] = sport >> 8;
		pk.port[1] = sport & 0xff;
		cv = bpf_map_lookup_elem(&tg_sports, &pk);
		if (cv)
			dk.sport_class = cv->class_id;
	}
#endif

	struct tg_decision_value *dv = bpf_map_lookup_elem(&tg_decisions, &dk);
	if (dv) {
		/* the table is shared by entries with equal policy: its rule indexes are relative to each entry's rows */
		res->rule = ep->rule_base + dv->rule;
		res->verdict = dv->verdict;
	} else {
		res->rule = ep->miss_rule;
		res->verdict = ep->miss_verdict;
	}
}

static __always_inline __u64 tg_timeout(__u8 proto, __u8 flags)
{
	if (proto == IPPROTO_TCP)
		return (flags & (TG_CT_FIN_LOCAL | TG_CT_FIN_PEER)) ? tg_ct_timeout_tcp_closing_ns
								     : tg_ct_timeout_tcp_ns;
	if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE)
		return tg_ct_timeout_udp_ns;
	return tg_ct_timeout_other_ns;
}

/*
 * Is the entry still live at now? The entry is shared by every CPU: another CPU may have written a last_seen_ns
 * later than the now this packet read before its lookup (one flow's data and ACKs on two CPUs), so now -
 * last_seen_ns can be "negative". As an unsigned number that is huge, the entry looked idle too long and was
 * deleted under a running flow, whose next mid-stream packet then found none (TCP_NO_FLOW: the TCP stalls of
 * bench/README.md). An entry seen after now is live; one seen at now is live unless its timeout is 0 (the clock
 * is coarse, tg_now: a packet in the same tick as the last one reads the same time, and a timeout of 0 still
 * means "not used again").
 */
static __always_inline int tg_ct_live(const struct tg_ct_value *ct, __u64 now, __u8 proto)
{
	__s64 idle = (__s64)(now - ct->last_seen_ns);
	return idle < 0 || (__u64)idle < tg_timeout(proto, ct->flags);
}

/*
 * Nanoseconds since boot at tick resolution, from jiffies: jiffies_64 starts at INITIAL_JIFFIES (2^32 - 300 * HZ,
 * include/linux/jiffies.h), so (jiffies_64 - INITIAL_JIFFIES) ticks is the time since boot, CLOCK_MONOTONIC within
 * a fraction of a second (measured here: 0.26 s behind it, 11 h after boot). Constants folded by the compiler.
 */
#define TG_JIFFIES_NS(hz) ((bpf_jiffies64() - (__u64)(__u32)(-300 * (hz))) * (1000000000ULL / (hz)))

/*
 * Conntrack time: CLOCK_MONOTONIC at tick resolution (1/CONFIG_HZ: 4 ms at HZ=250), from jiffies.
 * bpf_jiffies64() is inlined by the verifier (one load of jiffies_64 on 64-bit JITs): no helper call. tg_hz
 * (CONFIG_HZ, read from the kernel config by BpfObject.open) is a constant to the verifier (.rodata is frozen), so
 * only one case below stays in the program; a kernel whose config cannot be read (or an HZ not listed) gets
 * bpf_ktime_get_coarse_ns(), the same clock through a helper call. (Not a __kconfig extern: libbpf refuses to
 * load an object with one when it finds no kernel config, even a __weak one.) Only differences of these times
 * matter (the idle time of an entry); every program of a node is given the same tg_hz, so they keep one time base
 * in the shared conntrack.
 * Measured: BPF_PROG_TEST_RUN of an established UDP packet (10,000-rule bench program) 86-87 ns with
 * bpf_ktime_get_coarse_ns, 70-72 ns with jiffies (3 alternating pairs, medians of 5). Before that, the precise
 * clock (bpf_ktime_get_ns) cost 17-32 ns more per packet than the coarse one on the raw flood of bench/README.md.
 * The idle timeouts are seconds to hours, so a tick is below their resolution. And every packet of a flow in one
 * tick reads the same time, so the refresh below writes the shared entry at most once per tick, not per packet.
 */
static __always_inline __u64 tg_now(void)
{
	switch (tg_hz) {
	case 100:
		return TG_JIFFIES_NS(100);
	case 250:
		return TG_JIFFIES_NS(250);
	case 300:
		return TG_JIFFIES_NS(300); /* (1e9 / 300 rounded down: 0.1 ppm slow) */
	case 1000:
		return TG_JIFFIES_NS(1000);
	default:
		return bpf_ktime_get_coarse_ns();
	}
}

/*
 * The node's policy generation. Read before the endpoint entry: a packet that then passes on the endpoint lookup
 * stores this gen in the conntrack entry, and the loader bumps gen only after its endpoint writes, so a stored
 * gen is never newer than the endpoint entries the packet checked (an older one costs one more slow packet).
 * An ARRAY lookup with a constant key is inlined by the verifier: no helper call.
 */
static __always_inline __u32 tg_generation(void)
{
	__u32 zero = 0;
	__u32 *g = bpf_map_lookup_elem(&tg_gen, &zero);
	return g ? *(volatile __u32 *)g : 0;
}

/* Can this entry pass the packet without the endpoint lookup? Checked under this gen, on this interface. */
static __always_inline int tg_ct_fast(const struct tg_ct_value *ct, __u32 gen, __u32 ifindex, __u64 now,
				      __u8 proto)
{
	return ct && ct->gen == gen && ct->ifindex == ifindex && tg_ct_live(ct, now, proto);
}

/* The entry was checked against the endpoint entries under gen: later packets of it may take the fast path. */
static __always_inline void tg_ct_checked(struct tg_ct_value *ct, __u32 gen, __u32 ifindex)
{
	if (ct->gen != gen)
		ct->gen = gen;
	if (ct->ifindex != ifindex)
		ct->ifindex = ifindex;
}

/* Passes a packet that policy does not look at. */
static __always_inline int tg_pass(__u8 reason)
{
	tg_record(TG_RULE_NONE, 0, TG_VERDICT_ALLOW, reason);
	return TC_ACT_OK;
}

static __always_inline int tg_drop(__u32 ep_id, __u8 reason)
{
	tg_record(TG_RULE_NONE, ep_id, TG_VERDICT_DENY, reason);
	return TC_ACT_SHOT;
}

/* A packet of a live flow: refresh the entry, note FIN, end the flow on RST, count it under the flow's rule. */
static __always_inline int tg_ct_pass(struct tg_ct_value *ct, const struct tg_ct_key *ck, __u64 now,
				      __u8 tcp_flags, __u8 fin_flag, __u32 len, __u32 ep_id, __u8 reason)
{
	/* Only forward in time (never back to a time another CPU already passed), and once per tick (tg_now). */
	if ((__s64)(now - ct->last_seen_ns) > 0)
		ct->last_seen_ns = now;
	if (tcp_flags & TG_TCP_FIN)
		ct->flags |= fin_flag;
	__u32 rule = ct->rule;
	if (tcp_flags & TG_TCP_RST)
		bpf_map_delete_elem(&tg_conntrack, ck);
	tg_count(rule, len);
	tg_record(rule, ep_id, TG_VERDICT_ALLOW, reason);
	return TC_ACT_OK;
}

static __always_inline int tg_handle(struct __sk_buff *skb, const __u8 dir)
{
	/* The parser writes the addresses straight into the conntrack key (local = the pod's side). */
	struct tg_ct_key ck = { .origin = dir };
	struct tg_pkt p = { .src = dir == TG_DIR_INGRESS ? ck.peer : ck.local,
			    .dst = dir == TG_DIR_INGRESS ? ck.local : ck.peer };
	__u32 gen = tg_generation();
	int parsed = tg_parse(skb, &p);
	__u32 ifindex = skb->ifindex;

	if (parsed == TG_PARSE_NOT_IP)
		return tg_pass(TG_REASON_NOT_IP);
	if (parsed == TG_PARSE_MALFORMED) {
		if (!bpf_map_lookup_elem(&tg_ifaces, &ifindex))
			return tg_pass(TG_REASON_UNMANAGED);
		return tg_drop(0, TG_REASON_MALFORMED);
	}

	/* Before the endpoint lookup: these come from link-local or unspecified addresses, never a pod's own. */
	if (p.nd)
		return tg_pass(TG_REASON_ND);

	const __u8 *local = ck.local;
	const __u8 *peer = ck.peer;
	/* Fragments and unparsed extension headers have no ports (the parser left them 0). */
	__u16 local_port = dir == TG_DIR_INGRESS ? p.dport : p.sport;
	__u16 peer_port = dir == TG_DIR_INGRESS ? p.sport : p.dport;
	__u32 len = skb->len;
	__u64 now = tg_now();
	/* Conntrack by identifier for ICMP echo; other ICMP (errors) has no flow: policy decides each. */
	int tracked = p.proto != IPPROTO_ICMP && p.proto != IPPROTO_ICMPV6;
	if (p.icmp_echo) {
		tracked = 1;
		local_port = p.echo_id;
		peer_port = p.echo_id;
	}
	int syn = (p.tcp_flags & (TG_TCP_SYN | TG_TCP_ACK)) == TG_TCP_SYN;
	/* Only a SYN starts a TCP flow (docs/design.md); fragments carry no TCP flags and are not held to it. */
	int midstream = p.proto == IPPROTO_TCP && p.l4 == TG_L4_OK && !syn;
	__u8 fin_flag = dir == TG_DIR_EGRESS ? TG_CT_FIN_LOCAL : TG_CT_FIN_PEER;
	__u8 reason = TG_REASON_POLICY;
	struct tg_result res = {};

	ck.local_port = local_port;
	ck.peer_port = peer_port;
	ck.proto = p.proto;
	ck.family = p.family;

	/*
	 * The fast path: an entry of this flow (its own direction, or the reply of the other) that was checked
	 * under the current gen by this interface's program passes the packet without the endpoint lookup. Nothing
	 * was switched since that check, so the endpoint entry it checked is the one a lookup would find. Not for
	 * fragments and unparsed extension headers: whether they may pass depends on the endpoint (TG_EP_L4_RULES).
	 * The lookups are kept for the path below (a miss or a stale entry costs no second lookup).
	 */
	struct tg_ct_value *ct = 0;
	struct tg_ct_value *rct = 0;
	int looked = tracked && !syn && (p.l4 == TG_L4_OK || p.l4 == TG_L4_NOPORTS);
	if (looked) {
		ct = bpf_map_lookup_elem(&tg_conntrack, &ck);
		if (tg_ct_fast(ct, gen, ifindex, now, p.proto))
			return tg_ct_pass(ct, &ck, now, p.tcp_flags, fin_flag, len, ct->ep_id,
					  TG_REASON_CT_ESTABLISHED);
		ck.origin = !dir;
		rct = bpf_map_lookup_elem(&tg_conntrack, &ck);
		/*
		 * Only with no entry of its own: an own entry (stale, or of another interface) goes below, where a
		 * live one is checked against this direction's policy before any reply entry is looked at.
		 * (the ep_id recorded is the origin direction's: this direction's entry is not looked up)
		 */
		if (!ct && tg_ct_fast(rct, gen, ifindex, now, p.proto))
			return tg_ct_pass(rct, &ck, now, p.tcp_flags, fin_flag, len, rct->ep_id,
					  TG_REASON_CT_REPLY);
		ck.origin = dir;
	}

	struct tg_ep_key ek = { .ifindex = ifindex, .direction = dir, .family = p.family };
	__builtin_memcpy(ek.addr, local, 16);
	struct tg_ep_value *ep = bpf_map_lookup_elem(&tg_endpoints, &ek);
	if (!ep) {
		if (!bpf_map_lookup_elem(&tg_ifaces, &ifindex))
			return tg_pass(TG_REASON_UNMANAGED);
		return tg_drop(0, TG_REASON_UNKNOWN_LOCAL);
	}
	/* Without the L4 header, port and protocol rules cannot be applied: such endpoints drop. */
	if ((p.l4 == TG_L4_FRAGMENT || p.l4 == TG_L4_EXTHDR) && (ep->flags & TG_EP_L4_RULES))
		return tg_drop(ep->ep_id, p.l4 == TG_L4_FRAGMENT ? TG_REASON_FRAGMENT : TG_REASON_EXTHDR);

	if (tracked && !syn) {
		/* 1. the flow's own direction */
		if (!looked)
			ct = bpf_map_lookup_elem(&tg_conntrack, &ck);
		if (ct && tg_ct_live(ct, now, p.proto)) {
			if (ct->ep_id == ep->ep_id) {
				tg_ct_checked(ct, gen, ifindex);
				return tg_ct_pass(ct, &ck, now, p.tcp_flags, fin_flag, len, ep->ep_id,
						  TG_REASON_CT_ESTABLISHED);
			}
			/* The policy changed since the flow was allowed: decide once more below. */
			reason = TG_REASON_POLICY_RECHECK;
		} else if (ct) {
			bpf_map_delete_elem(&tg_conntrack, &ck); /* idle too long */
		}

		/* 2. the reply of a flow the other direction allowed */
		if (reason == TG_REASON_POLICY) {
			ck.origin = !dir;
			if (!looked)
				rct = bpf_map_lookup_elem(&tg_conntrack, &ck);
			ct = rct;
			if (ct && tg_ct_live(ct, now, p.proto)) {
				struct tg_ep_key ok = ek;
				ok.direction = !dir;
				struct tg_ep_value *oep = bpf_map_lookup_elem(&tg_endpoints, &ok);
				int valid = oep && oep->ep_id == ct->ep_id;
				if (!valid) {
					/*
					 * Policy of the origin direction changed: check the original flow. A denied (or
					 * gone) origin drops this packet: deciding it as a new flow of this direction
					 * would let the flow's answering side re-open what its origin now refuses.
					 */
					if (oep)
						tg_decide(oep, p.family, peer, p.proto, p.sport, p.dport, &res);
					if (!oep || res.verdict != TG_VERDICT_ALLOW) {
						bpf_map_delete_elem(&tg_conntrack, &ck);
						tg_count(res.rule, len);
						tg_record(res.rule, ep->ep_id, TG_VERDICT_DENY,
							  TG_REASON_POLICY_RECHECK);
						return TC_ACT_SHOT;
					}
					ct->ep_id = oep->ep_id;
					ct->rule = res.rule;
				}
				tg_ct_checked(ct, gen, ifindex);
				return tg_ct_pass(ct, &ck, now, p.tcp_flags, fin_flag, len, ep->ep_id,
						  TG_REASON_CT_REPLY);
			} else if (ct) {
				bpf_map_delete_elem(&tg_conntrack, &ck);
			}
			ck.origin = dir;
		}
	}

	/* No flow: a TCP packet other than a SYN is not the start of one (a mid-stream ACK would open a flow). */
	if (midstream && reason == TG_REASON_POLICY)
		return tg_drop(ep->ep_id, TG_REASON_TCP_NO_FLOW);

	/* A new flow (or a SYN, or a flow whose policy changed): policy decides. */
	tg_decide(ep, p.family, peer, p.proto, p.dport, p.sport, &res);
	tg_count(res.rule, len);
	tg_record(res.rule, ep->ep_id, res.verdict, reason);
	if (res.verdict != TG_VERDICT_ALLOW) {
		if (reason == TG_REASON_POLICY_RECHECK)
			bpf_map_delete_elem(&tg_conntrack, &ck);
		return TC_ACT_SHOT;
	}
	if (tracked && !(p.tcp_flags & TG_TCP_RST)) {
		struct tg_ct_value cv = { .last_seen_ns = now, .ep_id = ep->ep_id, .rule = res.rule,
					  .ifindex = ifindex, .gen = gen };
		if (p.tcp_flags & TG_TCP_FIN)
			cv.flags = fin_flag;
		bpf_map_update_elem(&tg_conntrack, &ck, &cv, BPF_ANY);
	}
	return TC_ACT_OK;
}

/* Traffic into the pod: attached at the host-side interface's tc egress hook. */
SEC("tc")
int tollgate_ingress(struct __sk_buff *skb)
{
	return tg_handle(skb, TG_DIR_INGRESS);
}

/* Traffic out of the pod: attached at the host-side interface's tc ingress hook. */
SEC("tc")
int tollgate_egress(struct __sk_buff *skb)
{
	return tg_handle(skb, TG_DIR_EGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
