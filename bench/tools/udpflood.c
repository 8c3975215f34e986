// SPDX-License-Identifier: Apache-2.0
// Small-packet UDP flood for the Tollgate benchmarks (built on demand by bench/drivers/traffic.ts).
//   udpflood send SRC DST PORT SECONDS PAYLOAD   sends from SRC to DST:PORT as fast as it can for SECONDS,
//                                                 batches of 64 through sendmmsg; prints "sent N seconds S
//                                                 cpu C preempted P": C = the sender's CPU seconds, which
//                                                 include the softirq work its sends run on the way (the
//                                                 veth hops, forwarding, the ruleset, delivery), P = times it
//                                                 was preempted (someone else wanted its CPU)
//   udpflood raw IFNAME DSTMAC SRC DST PORT SECONDS PAYLOAD
//                                                 the same flood below the socket layer: prebuilt Ethernet +
//                                                 IPv4 + UDP frames (checksums computed; from IFNAME's MAC to
//                                                 DSTMAC, the next hop's) from the PACKET_TX_RING of an
//                                                 AF_PACKET socket with PACKET_QDISC_BYPASS, batches of 64 per
//                                                 send(); no socket lookup, routing, neighbour resolution or
//                                                 qdisc on the sender; prints the same line as send
//   udpflood sink PORT [PORT...]                  binds the ports and never reads (so the receiver sends no
//                                                 ICMP port-unreachable); prints "ready"; runs until killed
// One fixed 5-tuple and no replies: conntrack never sees the flow answered, so every packet is ctstate NEW and
// walks the ruleset, the per-packet cost the benchmark is after.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: udpflood send SRC DST PORT SECONDS PAYLOAD | udpflood raw IFNAME DSTMAC SRC DST PORT SECONDS PAYLOAD"
			" | udpflood sink PORT...\n");
	return 2;
}

/* The Internet checksum of len bytes, folded, starting from sum (RFC 1071). */
static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One generator's way of sending a batch: returns the packets sent (0 when none could be), -1 on an error. */
typedef long (*batch_fn)(int fd, void *ctx);

/*
 * Sends batches for SECONDS (the clock read after each batch) and prints "sent N seconds S cpu C preempted P".
 * Errors that only say "not now" (a full queue, a port not yet bound) count as an empty batch.
 */
static int flood(int fd, double seconds, batch_fn batch, void *ctx)
{
	unsigned long long sent = 0;
	struct rusage ru0, ru1;

	getrusage(RUSAGE_SELF, &ru0);
	double t0 = now(), t = t0, c0 = cpu();
	while (t - t0 < seconds) {
		long n = batch(fd, ctx);
		if (n > 0)
			sent += n;
		else if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) {
			perror("udpflood: send");
			return 1;
		}
		t = now();
	}
	double c1 = cpu();
	getrusage(RUSAGE_SELF, &ru1);
	printf("sent %llu seconds %.6f cpu %.6f preempted %ld\n", sent, t - t0, c1 - c0, ru1.ru_nivcsw - ru0.ru_nivcsw);
	return 0;
}

/* send: BATCH datagrams through one sendmmsg on a connected UDP socket */
static long mmsg_batch(int fd, void *msgs)
{
	return sendmmsg(fd, msgs, BATCH, 0);
}

#define RING_FRAME 256 /* bytes per ring slot: tpacket2_hdr, virtio_net_hdr, the frame */
#define RING_BLOCKS 16 /* of one page each */

struct ring {
	uint8_t *slots;
	unsigned int nr, head;
	size_t len; /* the frame's length, without its virtio_net_hdr */
};

/*
 * raw: BATCH slots of the PACKET_TX_RING marked TP_STATUS_SEND_REQUEST (in ring order), then one send(). It
 * returns once their skbs are gone (freed within the call: every hop runs as softirq work on the way), so a slot
 * is never reused while in flight; one that is still in flight is not marked, and the batch is shorter.
 */
static long ring_batch(int fd, void *ctx)
{
	struct ring *r = ctx;
	for (int queued = 0; queued < BATCH; queued++) {
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)(r->slots + (size_t)r->head * RING_FRAME);
		if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE)
			break;
		__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
		r->head = (r->head + 1) % r->nr;
	}
	ssize_t n = send(fd, NULL, 0, 0);
	return n < 0 ? -1 : (long)(n / r->len); /* send() counts the frames' bytes, not their virtio_net_hdr */
}

/* Sets up fd's PACKET_TX_RING with the frame written into every slot once. */
static int ring_setup(int fd, struct ring *r, const void *frame, size_t len)
{
	int version = TPACKET_V2, vnet = 1;
	struct tpacket_req req = { .tp_block_size = getpagesize(), .tp_block_nr = RING_BLOCKS, .tp_frame_size = RING_FRAME };
	const size_t data_off = TPACKET_ALIGN(sizeof(struct tpacket2_hdr));

	req.tp_frame_nr = req.tp_block_size / req.tp_frame_size * req.tp_block_nr;
	if (data_off + sizeof(struct virtio_net_hdr) + len > RING_FRAME) {
		fprintf(stderr, "udpflood: a %zu-byte frame does not fit a %d-byte ring slot\n", len, RING_FRAME);
		return -1;
	}
	/*
	 * A virtio_net_hdr before each frame, for its hdr_len: the kernel copies that much of the slot into the skb's
	 * linear data. Without it only the link-layer header is copied and the rest rides as a fragment of the ring's
	 * page, which the veth into another netns copies out again (skb_copy_ubufs) and the node pulls back: measured,
	 * that zero-copy send cost more than the 60-byte copy.
	 */
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &vnet, sizeof(vnet)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) < 0) {
		perror("udpflood: PACKET_TX_RING");
		return -1;
	}
	r->slots = mmap(NULL, (size_t)req.tp_block_size * req.tp_block_nr, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->slots == MAP_FAILED) {
		perror("udpflood: mmap");
		return -1;
	}
	r->nr = req.tp_frame_nr;
	r->head = 0;
	r->len = len;
	for (unsigned int i = 0; i < r->nr; i++) {
		struct tpacket2_hdr *h = (struct tpacket2_hdr *)(r->slots + (size_t)i * RING_FRAME);
		struct virtio_net_hdr *vh = (struct virtio_net_hdr *)((uint8_t *)h + data_off);
		memset(vh, 0, sizeof(*vh));
		vh->hdr_len = len;
		memcpy(vh + 1, frame, len);
		h->tp_len = sizeof(*vh) + len;
	}
	return 0;
}

static int do_send(const char *src, const char *dst, int port, double seconds, int payload)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, da = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char buf[1500];
	static struct mmsghdr msgs[BATCH];
	struct iovec iov = { .iov_base = buf, .iov_len = payload };
	int fd;

	if (inet_pton(AF_INET, src, &sa.sin_addr) != 1 || inet_pton(AF_INET, dst, &da.sin_addr) != 1 || payload < 1 ||
	    payload > (int)sizeof(buf))
		return usage();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || connect(fd, (struct sockaddr *)&da, sizeof(da)) < 0) {
		perror("udpflood: socket");
		return 1;
	}
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return flood(fd, seconds, mmsg_batch, msgs);
}

static int do_raw(const char *ifname, const char *dstmac, const char *src, const char *dst, int port, double seconds, int payload)
{
	static uint8_t frame[1514];
	struct ether_header *eth = (struct ether_header *)frame;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	struct ifreq ifr = { 0 };
	unsigned int mac[ETH_ALEN];
	int one = 1, fd;

	if (strlen(ifname) >= IFNAMSIZ || payload < 1 || payload > (int)(sizeof(frame) - sizeof(*eth) - sizeof(*ip) - sizeof(*udp)) ||
	    sscanf(dstmac, "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != ETH_ALEN ||
	    inet_pton(AF_INET, src, &ip->saddr) != 1 || inet_pton(AF_INET, dst, &ip->daddr) != 1 || port < 1 || port > 65535)
		return usage();
	strcpy(ifr.ifr_name, ifname);
	/* protocol 0: the socket only sends (receives nothing, so costs nothing on the way in) */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		perror("udpflood: packet socket");
		return 1;
	}
	ll.sll_ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ll, sizeof(ll)) < 0) {
		perror("udpflood: packet socket setup");
		return 1;
	}
	for (int i = 0; i < ETH_ALEN; i++)
		eth->ether_dhost[i] = mac[i];
	memcpy(eth->ether_shost, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	eth->ether_type = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*udp) + payload);
	ip->frag_off = htons(IP_DF);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->check = htons(csum(ip, sizeof(*ip), 0));
	/* one source port per run from the ephemeral range, as a connected UDP socket would get */
	udp->source = htons(32768 + getpid() % 28232);
	udp->dest = htons(port);
	udp->len = htons(sizeof(*udp) + payload);
	/* pseudo header (addresses, protocol, UDP length) + UDP header + payload (zeros) */
	uint32_t pseudo = (ntohl(ip->saddr) >> 16) + (ntohl(ip->saddr) & 0xffff) + (ntohl(ip->daddr) >> 16) +
			  (ntohl(ip->daddr) & 0xffff) + IPPROTO_UDP + sizeof(*udp) + payload;
	uint16_t c = csum(udp, sizeof(*udp) + payload, pseudo);
	udp->check = htons(c ? c : 0xffff);
	struct ring ring;
	if (ring_setup(fd, &ring, frame, sizeof(*eth) + sizeof(*ip) + sizeof(*udp) + payload) < 0)
		return 1;
	return flood(fd, seconds, ring_batch, &ring);
}

static int do_sink(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[i])) };
		int fd = socket(AF_INET, SOCK_DGRAM, 0), small = 4096;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("udpflood: bind");
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc >= 7 && !strcmp(argv[1], "send"))
		return do_send(argv[2], argv[3], atoi(argv[4]), atof(argv[5]), atoi(argv[6]));
	if (argc >= 9 && !strcmp(argv[1], "raw"))
		return do_raw(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]), atof(argv[7]), atoi(argv[8]));
	if (argc >= 3 && !strcmp(argv[1], "sink"))
		return do_sink(argc - 2, argv + 2);
	return usage();
}
