/*
 * unixsock: the two AF_UNIX clients the guest's busybox lacks (its nc has no unix sockets). Guest only: built
 * static by Tests/VM/run (gcc -static) and installed in the initramfs as /usr/bin/unixsock.
 *
 *   unixsock notify-listen PATH
 *       Binds an AF_UNIX datagram socket at PATH (systemd's NOTIFY_SOCKET side) and prints every datagram it
 *       receives, one assignment a line: "N MONOTONIC_NS KEY=value" (N counts datagrams from 1; MONOTONIC_NS is
 *       CLOCK_MONOTONIC at receipt, the clock of the journal's monotonic_ns). Runs until killed.
 *   unixsock request PATH LINE
 *       Connects an AF_UNIX stream socket to PATH (the agent's control socket), sends LINE and a newline, prints
 *       the first reply line. Exit 0 on a reply; 2 with "connect: <strerror>" on stderr when the connection is
 *       refused (EACCES); 1 on any other error. A reply already sent is read even when sending LINE failed (the agent
 *       answers a caller it refuses at once and closes).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int address(const char *path, struct sockaddr_un *sun) {
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun->sun_path) {
        fprintf(stderr, "unixsock: path too long: %s\n", path);
        exit(1);
    }
    strcpy(sun->sun_path, path);
    return (int)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static int notify_listen(const char *path) {
    struct sockaddr_un sun;
    int length = address(path, &sun);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, length) != 0) {
        fprintf(stderr, "unixsock: bind %s: %s\n", path, strerror(errno));
        return 1;
    }
    static char buffer[65536];
    for (unsigned long n = 1;; n++) {
        ssize_t got = recv(fd, buffer, sizeof buffer - 1, 0);
        if (got < 0) {
            if (errno == EINTR) { n--; continue; }
            fprintf(stderr, "unixsock: recv: %s\n", strerror(errno));
            return 1;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
        buffer[got] = 0;
        for (char *line = buffer, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            printf("%lu %lld %s\n", n, ns, line);
        }
        fflush(stdout);
    }
}

static int request(const char *path, const char *line) {
    struct sockaddr_un sun;
    int length = address(path, &sun);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("unixsock: socket"); return 1; }
    if (connect(fd, (struct sockaddr *)&sun, length) != 0) {
        fprintf(stderr, "connect: %s\n", strerror(errno));
        return 2;
    }
    size_t size = strlen(line);
    char *out = malloc(size + 1);
    memcpy(out, line, size);
    out[size] = '\n';
    for (size_t sent = 0; sent < size + 1;) {
        ssize_t n = send(fd, out + sent, size + 1 - sent, MSG_NOSIGNAL);
        /* The agent refuses a stranger with one reply and closes at once: read that reply even if send fails. */
        if (n < 0) { perror("unixsock: send"); break; }
        sent += (size_t)n;
    }
    char c;
    ssize_t n;
    while ((n = recv(fd, &c, 1, 0)) == 1) {
        putchar(c);
        if (c == '\n') return 0;
    }
    fprintf(stderr, "unixsock: no reply line (%s)\n", n < 0 ? strerror(errno) : "connection closed");
    return 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "notify-listen") == 0) return notify_listen(argv[2]);
    if (argc == 4 && strcmp(argv[1], "request") == 0) return request(argv[2], argv[3]);
    fprintf(stderr, "usage: unixsock notify-listen PATH | unixsock request PATH LINE\n");
    return 1;
}
