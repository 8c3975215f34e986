// SPDX-License-Identifier: Apache-2.0
// Small-packet UDP flood for the Tollgate benchmarks (built on demand by bench/drivers/traffic.ts).
//   udpflood send SRC DST PORT SECONDS PAYLOAD   sends from SRC to DST:PORT as fast as it can for SECONDS,
//                                                 batches of 64 through sendmmsg; prints "sent N seconds S
//                                                 cpu C preempted P": C = the sender's CPU seconds, which
//                                                 include the softirq work its sends run on the way (the
//                                                 veth hops, forwarding, the ruleset, delivery), P = times it
//                                                 was preempted (someone else wanted its CPU)
//   udpflood sink PORT [PORT...]                  binds the ports and never reads (so the receiver sends no
//                                                 ICMP port-unreachable); prints "ready"; runs until killed
// One fixed 5-tuple and no replies: conntrack never sees the flow answered, so every packet is ctstate NEW and
// walks the ruleset, the per-packet cost the benchmark is after.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	fprintf(stderr, "usage: udpflood send SRC DST PORT SECONDS PAYLOAD | udpflood sink PORT...\n");
	return 2;
}

static int do_send(const char *src, const char *dst, int port, double seconds, int payload)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, da = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char buf[1500];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	unsigned long long sent = 0;
	int fd;

	if (inet_pton(AF_INET, src, &sa.sin_addr) != 1 || inet_pton(AF_INET, dst, &da.sin_addr) != 1 || payload < 1 ||
	    payload > (int)sizeof(buf))
		return usage();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || connect(fd, (struct sockaddr *)&da, sizeof(da)) < 0) {
		perror("udpflood: socket");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = payload;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	double t0 = now(), t = t0, c0 = cpu();
	while (t - t0 < seconds) {
		for (int k = 0; k < 16; k++) {
			int n = sendmmsg(fd, msgs, BATCH, 0);
			if (n > 0)
				sent += n;
			else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) {
				perror("udpflood: sendmmsg");
				return 1;
			}
		}
		t = now();
	}
	double c1 = cpu();
	getrusage(RUSAGE_SELF, &ru1);
	printf("sent %llu seconds %.6f cpu %.6f preempted %ld\n", sent, t - t0, c1 - c0, ru1.ru_nivcsw - ru0.ru_nivcsw);
	return 0;
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
	if (argc >= 3 && !strcmp(argv[1], "sink"))
		return do_sink(argc - 2, argv + 2);
	return usage();
}
