/*
 * The bench's ceiling: the cheapest UDP DNS responder this machine can run, so the
 * table shows how many queries per second dnsperf itself can drive here (it shares the
 * cores with the server under test). One thread, recvmmsg/sendmmsg in batches of 64,
 * no lookup: each query gets its own question back with one fixed PTR record appended
 * (a compression pointer to the question name). Not a DNS server; a load-generator
 * probe. Built by bench.ts with `cc -O2`; run: ceiling PORT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define SIZE 512

/* name ptr to 12, type PTR, class IN, TTL 5, rdlength 15, "\x01x\x07cluster\x05local\x00" */
static const unsigned char ANSWER[] = {0xc0, 0x0c, 0x00, 0x0c, 0x00, 0x01, 0x00, 0x00,
                                       0x00, 0x05, 0x00, 0x0f, 0x01, 'x',  0x07, 'c',
                                       'l',  'u',  's',  't',  'e',  'r',  0x05, 'l',
                                       'o',  'c',  'a',  'l',  0x00};

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: ceiling PORT\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("bind");
    return 1;
  }
  static unsigned char bufs[BATCH][SIZE];
  static struct sockaddr_in peers[BATCH];
  static struct iovec iov[BATCH];
  static struct mmsghdr in[BATCH], out[BATCH];
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = SIZE;
      memset(&in[i].msg_hdr, 0, sizeof in[i].msg_hdr);
      in[i].msg_hdr.msg_iov = &iov[i];
      in[i].msg_hdr.msg_iovlen = 1;
      in[i].msg_hdr.msg_name = &peers[i];
      in[i].msg_hdr.msg_namelen = sizeof peers[i];
    }
    int n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    int m = 0;
    for (int i = 0; i < n; i++) {
      unsigned len = in[i].msg_len;
      if (len < 12 || len + sizeof ANSWER > SIZE) continue;
      unsigned char *b = bufs[i];
      b[2] |= 0x84; /* QR, AA */
      b[3] = 0;
      b[6] = 0;
      b[7] = 1; /* ANCOUNT 1 */
      b[8] = b[9] = b[10] = b[11] = 0;
      memcpy(b + len, ANSWER, sizeof ANSWER);
      iov[i].iov_len = len + sizeof ANSWER;
      out[m].msg_hdr = in[i].msg_hdr;
      out[m].msg_hdr.msg_iov = &iov[i];
      m++;
    }
    for (int sent = 0; sent < m;) {
      int k = sendmmsg(fd, out + sent, m - sent, 0);
      if (k <= 0) break;
      sent += k;
    }
  }
}
