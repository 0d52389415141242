/* SPDX-License-Identifier: MIT */
#include "fake-daemon.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mctest.h"

/* Wait for one request line on @c; false when the client closed first. */
static bool next_request(int c, char *buf, size_t size, size_t *have) {
        char *nl;
        size_t used;

        while (!(nl = memchr(buf, '\n', *have))) {
                ssize_t n = read(c, buf + *have, size - *have);
                if (n <= 0)
                        return false;
                *have += (size_t) n;
        }
        used = (size_t) (nl - buf) + 1;
        memmove(buf, buf + used, *have - used);
        *have -= used;
        return true;
}

/* Send @reply with @nfds descriptors of /dev/null; false on failure. */
static bool send_reply(int c, const char *reply, unsigned nfds) {
        struct iovec iov = {(void *) reply, strlen(reply)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        union {
                struct cmsghdr align;
                char b[CMSG_SPACE(sizeof(int) * 2)];
        } control;
        int fds[2] = {-1, -1};
        bool ok;

        if (nfds > 0) {
                struct cmsghdr *cm;

                if (nfds > 2)
                        return false;
                for (unsigned i = 0; i < nfds; i++)
                        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                memset(&control, 0, sizeof(control));
                mh.msg_control = control.b;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
                cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
        }
        ok = iov.iov_len == 0 || sendmsg(c, &mh, MSG_NOSIGNAL) >= 0;
        for (unsigned i = 0; i < nfds; i++)
                close(fds[i]);
        return ok;
}

pid_t fake_daemon_start(const char *path, const char *const *replies, const unsigned *fds) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        pid_t pid;

        cr_assert(ge(int, lfd, 0));
        cr_assert(lt(sz, strlen(path), sizeof(sa.sun_path)), "socket path too long: %s", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        unlink(path);
        cr_assert(eq(int, bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0));
        cr_assert(eq(int, listen(lfd, 4), 0));
        pid = fork();
        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
                char buf[65536];
                size_t have = 0;
                int c;

                /* Before accept(): a test that fails before its client connects leaves no
                 * child blocked for good. */
                alarm(20);
                c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        _exit(1);
                for (size_t i = 0; replies[i]; i++) {
                        if (!next_request(c, buf, sizeof(buf), &have))
                                _exit(0);
                        if (!send_reply(c, replies[i], fds ? fds[i] : 0))
                                _exit(1);
                }
                _exit(0);
        }
        close(lfd);
        return pid;
}
