// SPDX-License-Identifier: Apache-2.0
// The raw flood's receiver (bench/drivers/traffic.ts): tc ingress on the server's interface, drops every IPv4 UDP
// packet and lets everything else through (iperf3's TCP, ARP). A flood packet that reaches it has been through the
// node's ruleset and forwarding and is counted in the interface's rx_packets; dropping it here spares the cost of
// delivering it to a UDP socket, which is no part of what the benchmark compares.
// No headers needed (as tools/empty.bpf.c): the frame is read at fixed offsets through bpf_skb_load_bytes.
#define SEC(name) __attribute__((section(name), used))
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define BPF_FUNC_skb_load_bytes 26
#define ETH_OFF_PROTO 12		/* Ethernet: destination, source (6 bytes each), EtherType */
#define IP_OFF_PROTO (14 + 9)	/* IPv4 header after the Ethernet header: protocol at byte 9 */
#define IPPROTO_UDP 17

struct __sk_buff;

static long (*bpf_skb_load_bytes)(const struct __sk_buff *skb, unsigned int offset, void *to, unsigned int len) =
	(void *)BPF_FUNC_skb_load_bytes;

SEC("tc")
int tgb_udpdrop(struct __sk_buff *skb)
{
	unsigned char type[2], proto;

	/*
	 * Through the helper, not direct packet access: it reads fragments too, whatever part of the frame the
	 * sender left outside the skb's linear data.
	 */
	if (bpf_skb_load_bytes(skb, ETH_OFF_PROTO, type, 2) < 0 || type[0] != 0x08 || type[1] != 0x00 ||
	    bpf_skb_load_bytes(skb, IP_OFF_PROTO, &proto, 1) < 0)
		return TC_ACT_OK;
	return proto == IPPROTO_UDP ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Apache-2.0";
