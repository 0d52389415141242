/* SPDX-License-Identifier: MIT */
/*
 * memcap-demo-daemon: the second half of `make demo`. Starts memcapd over a fresh root, lets two
 * client processes share one file through it (each speaking the JSON-lines protocol over the
 * Unix socket), shows that ids belong to the process that made them, stops the daemon with
 * SIGTERM and prints the audit log it wrote.
 *
 * Usage: memcap-demo-daemon PATH-TO-MEMCAPD
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo-util.h"

static char dir[] = "/tmp/memcap-demo-daemon-XXXXXX";
static char sock_path[128], root[128], audit[128], file[160];

/* Send one request line and print it with its reply, as "who" sees them. */
static void call(int fd, const char *who, const char *request, char *reply, size_t size) {
        size_t n = 0;

        printf("  %s -> %s\n", who, request);
        if (write(fd, request, strlen(request)) < 0 || write(fd, "\n", 1) < 0) {
                snprintf(reply, size, "(write failed: %s)", strerror(errno));
                return;
        }
        while (n + 1 < size) {
                ssize_t k = read(fd, reply + n, 1);
                if (k <= 0 || reply[n] == '\n')
                        break;
                n++;
        }
        reply[n] = 0;
        printf("  %s <- %s\n", who, reply);
        fflush(stdout);
}

static int client_a(int ready, int go) {
        char reply[512];
        int fd = demo_connect(sock_path);
        char c;

        if (fd < 0)
                return 1;
        call(fd, "A", "{\"Mmap\": {\"path\": \"/data/shared.dat\", \"prot\": 3, \"shared\": true}}",
             reply, sizeof(reply));
        call(fd, "A",
             "{\"MmapWrite\": {\"mmap_id\": 1, \"offset\": 0, \"data\": "
             "[104,101,108,108,111,32,102,114,111,109,32,65]}}",
             reply, sizeof(reply));
        if (write(ready, "w", 1) != 1 || read(go, &c, 1) != 1)
                return 1;
        call(fd, "A", "{\"Msync\": {\"mmap_id\": 1}}", reply, sizeof(reply));
        return strstr(reply, "success") ? 0 : 1;
}

static int client_b(void) {
        char reply[512];
        int fd = demo_connect(sock_path);

        if (fd < 0)
                return 1;
        call(fd, "B", "{\"Mmap\": {\"path\": \"/data/shared.dat\", \"prot\": 1, \"shared\": true}}",
             reply, sizeof(reply));
        call(fd, "B",
             "{\"MmapRead\": {\"mmap_id\": 2, \"offset\": 0, \"length\": 12, \"encoding\": "
             "\"base64\"}}",
             reply, sizeof(reply));
        printf("     (aGVsbG8gZnJvbSBB is base64 for \"hello from A\": B sees A's write at "
               "once)\n");
        call(fd, "B", "{\"Munmap\": {\"mmap_id\": 1}}", reply, sizeof(reply));
        printf("     (id 1 is A's: for B it does not exist)\n");
        call(fd, "B", "{\"Mmap\": {\"path\": \"/../etc/passwd\", \"prot\": 1}}", reply,
             sizeof(reply));
        return 0;
}

int main(int argc, char **argv) {
        int ready[2], go[2], st_a, st_b, st_d, fd;
        pid_t daemon, a, b;
        char line[4096];

        if (argc != 2) {
                fprintf(stderr, "usage: %s PATH-TO-MEMCAPD\n", argv[0]);
                return 2;
        }
        if (!mkdtemp(dir))
                return perror("mkdtemp"), 1;
        snprintf(sock_path, sizeof(sock_path), "%s/memcapd.sock", dir);
        snprintf(root, sizeof(root), "%s/root", dir);
        snprintf(audit, sizeof(audit), "%s/audit.jsonl", dir);
        snprintf(file, sizeof(file), "%s/data/shared.dat", root);
        if (mkdir(root, 0755) < 0 || snprintf(line, sizeof(line), "%s/data", root) < 0 ||
            mkdir(line, 0755) < 0)
                return perror("mkdir"), 1;
        fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, 4096) < 0)
                return perror(file), 1;
        close(fd);

        printf("\n== memcapd: one daemon, two client processes, one file\n");
        fflush(stdout);
        daemon = fork();
        if (daemon == 0) {
                execl(argv[1], "memcapd", "--socket", sock_path, "--root", root, "--audit", audit,
                      (char *) NULL);
                perror("exec memcapd");
                _exit(127);
        }
        fd = demo_wait_daemon("memcap-demo-daemon", daemon, sock_path);
        if (fd < 0)
                return 1;
        close(fd);

        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
                return perror("pipe2"), 1;
        a = fork();
        if (a == 0)
                _exit(client_a(ready[1], go[0]));
        if (read(ready[0], line, 1) != 1)
                return 1;
        b = fork();
        if (b == 0)
                _exit(client_b());
        waitpid(b, &st_b, 0);
        if (write(go[1], "g", 1) != 1)
                return 1;
        waitpid(a, &st_a, 0);
        {
                char buf[13] = {0};
                fd = open(file, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || read(fd, buf, 12) != 12)
                        return perror(file), 1;
                close(fd);
                printf("  read(2) of the file after A's Msync: \"%s\"\n", buf);
        }
        printf("  both clients exited: memcapd releases their mappings (pidfd)\n");

        printf("\n== SIGTERM: memcapd syncs, unmaps, removes its socket and exits 0\n");
        fflush(stdout);
        nanosleep(&(struct timespec){0, 100000000}, NULL);
        kill(daemon, SIGTERM);
        waitpid(daemon, &st_d, 0);
        printf("  memcapd exit status %d; socket %s\n",
               WIFEXITED(st_d) ? WEXITSTATUS(st_d) : 128 + WTERMSIG(st_d),
               access(sock_path, F_OK) == 0 ? "still there (bad)" : "removed");

        printf("\n== memcapd's audit log (%s)\n", audit);
        demo_print_file(audit, /* only= */ NULL);

        unlink(audit);
        unlink(file);
        snprintf(line, sizeof(line), "%s/data", root);
        rmdir(line);
        rmdir(root);
        rmdir(dir);
        return WIFEXITED(st_a) && WEXITSTATUS(st_a) == 0 && WIFEXITED(st_b) &&
                               WEXITSTATUS(st_b) == 0 && WIFEXITED(st_d) && WEXITSTATUS(st_d) == 0
                       ? 0
                       : 1;
}
