/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Verdicts and drop reasons: the one table shared by the datapath and TypeScript.
 * compiler/emit/bpf/codes.ts parses this file (test/emit-bpf-layout.test.ts checks both agree), so keep the
 * form `#define TG_<GROUP>_<NAME> <number> / * text * /` on one line each.
 */
#pragma once

/* Verdict of a decision entry, an endpoint's miss verdict and the last-decision record. */
#define TG_VERDICT_NONE 0 /* not decided (never stored in a map) */
#define TG_VERDICT_ALLOW 1 /* pass the packet (TC_ACT_OK) */
#define TG_VERDICT_DENY 2 /* drop the packet (TC_ACT_SHOT) */

/* Why a packet was passed or dropped (the last-decision record and, later, drop counters). */
#define TG_REASON_POLICY 0 /* decided by policy: a rule, a tier end or the default */
#define TG_REASON_CT_ESTABLISHED 1 /* passed: conntrack hit in the flow's own direction */
#define TG_REASON_CT_REPLY 2 /* passed: conntrack hit as the reply of a flow the other direction allowed */
#define TG_REASON_UNMANAGED 3 /* passed: no endpoint on this interface (not a Tollgate interface) */
#define TG_REASON_NOT_IP 4 /* passed: not IPv4 or IPv6 (ARP, LLDP, ...) */
#define TG_REASON_ND 5 /* passed: IPv6 neighbour discovery and MLD (ICMPv6 130-137, 143) */
#define TG_REASON_UNKNOWN_LOCAL 6 /* dropped: managed interface, local address of no endpoint (spoofed) */
#define TG_REASON_MALFORMED 7 /* dropped: truncated or inconsistent IP header */
#define TG_REASON_FRAGMENT 8 /* dropped: IP fragment and the endpoint has port or protocol rules */
#define TG_REASON_EXTHDR 9 /* dropped: IPv6 extension header not parsed and the endpoint has port rules */
#define TG_REASON_POLICY_RECHECK 10 /* decided by policy again: conntrack entry older than the policy */
#define TG_REASON_TCP_NO_FLOW 11 /* dropped: TCP without SYN and no conntrack entry (only a SYN starts a flow) */

/* Directions as the pod sees them (program tollgate_ingress = traffic into the pod). */
#define TG_DIR_INGRESS 0 /* into the pod: attach at the host-side veth's tc egress hook */
#define TG_DIR_EGRESS 1 /* out of the pod: attach at the host-side veth's tc ingress hook */

/* Endpoint flags (struct tg_ep_value.flags). */
#define TG_EP_L4_RULES 1 /* some rule constrains protocol, ports or ICMP: fragments are dropped */
#define TG_EP_SPORTS 2 /* some rule constrains source ports: look the source-port trie up */
#define TG_EP_PEER_EXACT 4 /* the peer class has full-length entries (host addresses): hash lookup first */
#define TG_EP_PEER_LPM 8 /* the peer class has shorter prefixes: LPM lookup when the hash misses */
#define TG_EP_PORT_EXACT 16 /* single (protocol, port) entries: hash lookup first */
#define TG_EP_PORT_LPM 32 /* port ranges, whole protocols or "any": LPM lookup when the hash misses */

/* Conntrack entry flags (struct tg_ct_value.flags). */
#define TG_CT_FIN_LOCAL 1 /* the endpoint sent a FIN */
#define TG_CT_FIN_PEER 2 /* the peer sent a FIN */

/* Rule index 0 of the rule table: no rule (unmanaged, not IP, conntrack-only records). */
#define TG_RULE_NONE 0
