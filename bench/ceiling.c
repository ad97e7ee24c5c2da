/*
 * ceiling.c: the fastest "DNS server" one core can be, as a yardstick.
 *
 * Answers every UDP packet of at least a DNS header's size with the same
 * packet, QR set and RCODE REFUSED (5): two header bytes flipped, nothing
 * parsed, nothing allocated. Batches with recvmmsg/sendmmsg on one socket,
 * so what is left is the kernel's cost of moving packets in and out. The
 * benchmark (bench/run) measures it like every server under test; a
 * server's QPS per busy core divided by this one's says how close it comes
 * to what the kernel allows on this machine.
 *
 *   ceiling ADDRESS PORT     (IPv4 or IPv6; runs until SIGTERM/SIGINT)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg, sendmmsg; meson defines it for the whole project */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CEIL_BATCH 64
#define CEIL_BUF 4096
#define CEIL_HDR 12

static volatile sig_atomic_t ceil_stop;

static void ceil_on_signal(int sig)
{
	(void)sig;
	ceil_stop = 1;
}

static int ceil_socket(const char *addr, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	unsigned long p = strtoul(port, NULL, 10);
	if (p == 0 || p > 65535)
		return -1;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		len = sizeof *a4;
	} else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		len = sizeof *a6;
	} else {
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	int rcv = 4 << 20; /* the kernel caps it at net.core.rmem_max */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	/* DF and path MTU ignored, as embargo's listeners (RFC 9715): the
	 * kernel then skips the shared IP ID counter, its cheapest send path,
	 * so the yardstick stays the fastest the kernel allows */
	int probe = IP_PMTUDISC_PROBE;
	if (ss.ss_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof probe);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static uint8_t buf[CEIL_BATCH][CEIL_BUF];
	static struct sockaddr_storage from[CEIL_BATCH];
	static struct iovec iov[CEIL_BATCH];
	static struct mmsghdr in[CEIL_BATCH], out[CEIL_BATCH];

	if (argc != 3) {
		fprintf(stderr, "usage: ceiling ADDRESS PORT\n");
		return 2;
	}
	int fd = ceil_socket(argv[1], argv[2]);
	if (fd < 0) {
		fprintf(stderr, "ceiling: cannot bind %s port %s: %s\n", argv[1], argv[2], strerror(errno));
		return 1;
	}
	/* no SA_RESTART: a signal interrupts the blocking recvmmsg */
	struct sigaction sa = {.sa_handler = ceil_on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	unsigned long long answered = 0;
	while (!ceil_stop) {
		for (int i = 0; i < CEIL_BATCH; i++) {
			iov[i] = (struct iovec){.iov_base = buf[i], .iov_len = CEIL_BUF};
			in[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
							.msg_namelen = sizeof from[i],
							.msg_iov = &iov[i],
							.msg_iovlen = 1};
		}
		int n = recvmmsg(fd, in, CEIL_BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("ceiling: recvmmsg");
			return 1;
		}
		int m = 0;
		for (int i = 0; i < n; i++) {
			size_t len = in[i].msg_len;
			if (len < CEIL_HDR || (buf[i][2] & 0x80)) /* short, or already a response */
				continue;
			buf[i][2] |= 0x80;                        /* QR */
			buf[i][3] = (uint8_t)((buf[i][3] & 0xf0) | 5); /* keep RA/Z/AD/CD, RCODE REFUSED */
			iov[i].iov_len = len;
			out[m].msg_hdr = (struct msghdr){.msg_name = &from[i],
							 .msg_namelen = in[i].msg_hdr.msg_namelen,
							 .msg_iov = &iov[i],
							 .msg_iovlen = 1};
			m++;
		}
		for (int sent = 0; sent < m;) {
			int k = sendmmsg(fd, out + sent, (unsigned)(m - sent), 0);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				break; /* a full socket buffer drops the rest, as a server would */
			}
			sent += k;
		}
		answered += (unsigned long long)m;
	}
	fprintf(stderr, "ceiling: answered %llu queries\n", answered);
	close(fd);
	return 0;
}
