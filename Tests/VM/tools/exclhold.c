/*
 * exclhold: holds a block device open with O_EXCL, as ZFS, btrfs or md hold their devices, without mounting
 * anything or leaving a holders/ link. Guest only: built static by Tests/VM/run and installed as /usr/bin/exclhold.
 *
 *   exclhold DEVICE SECONDS
 *       Opens DEVICE read-only with O_EXCL, prints "held DEVICE" and sleeps SECONDS (or until killed).
 *       Exit 1 with "open: <strerror>" on stderr when the open fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: exclhold DEVICE SECONDS\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY | O_EXCL | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "open: %s\n", strerror(errno));
        return 1;
    }
    printf("held %s\n", argv[1]);
    fflush(stdout);
    sleep((unsigned)atoi(argv[2]));
    close(fd);
    return 0;
}
