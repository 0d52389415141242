/* SPDX-License-Identifier: MIT */
/* bench-daemon: the daemon's memory per idle connection and per mapping (see bench-daemon.c). */

#include "bench-daemon.h"

/* ---- memory ---- */

uint64_t count_lines(const char *path) {
        char buf[65536];
        uint64_t n = 0;
        ssize_t k;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return 0;
        while ((k = read(fd, buf, sizeof(buf))) > 0)
                for (ssize_t i = 0; i < k; i++)
                        n += buf[i] == '\n';
        close(fd);
        return n;
}

uint64_t count_fds(pid_t pid) {
        int n = mct_count_fds(pid, /* skip_proc= */ false);

        return n < 0 ? 0 : (uint64_t) n;
}

uint64_t kb_field(const char *buf, const char *name) {
        const char *p = strstr(buf, name);

        return p ? strtoull(p + strlen(name), NULL, 10) * KIB : 0;
}

int mem_snap_of(pid_t pid, mem_snap *m) {
        char path[64], buf[4096];

        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
        if (bench_read_small(path, buf, sizeof(buf)) <= 0)
                return bench_fail(-ESRCH, "cannot read %s", path);
        m->rss = kb_field(buf, "\nRss:");
        m->pss = kb_field(buf, "\nPss:");
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        if (bench_read_small(path, buf, sizeof(buf)) <= 0)
                return bench_fail(-ESRCH, "cannot read %s", path);
        m->vsz = kb_field(buf, "\nVmSize:");
        snprintf(path, sizeof(path), "/proc/%d/maps", (int) pid);
        m->vmas = count_lines(path);
        m->fds = count_fds(pid);
        return 0;
}

/*
 * Wait until the daemon holds at least (@up) or at most (!@up) @want descriptors, and the
 * count has settled: it accepted or closed what we did. Its record of our process (a pidfd)
 * may come and go with the first and last connection, so the count is not exact.
 */
int wait_fds(pid_t pid, uint64_t want, bool up) {
        uint64_t deadline = bench_now_ns() + 10 * NS, n, last = UINT64_MAX;

        for (;;) {
                n = count_fds(pid);
                if ((up ? n >= want : n <= want) && n == last)
                        return 0;
                if (bench_now_ns() > deadline)
                        return bench_fail(-ETIMEDOUT,
                                          "memcapd holds %" PRIu64
                                          " descriptors, expected %s %" PRIu64,
                                          n, up ? "at least" : "at most", want);
                last = n;
                usleep(50000);
        }
}

/* The daemon's memory after @us microseconds to finish with what it was just sent. */
static int snap_settled(pid_t pid, useconds_t us, mem_snap *m) {
        usleep(us);
        return mem_snap_of(pid, m);
}

/* The daemon's memory once it holds @want descriptors (wait_fds()). */
static int snap_at_fds(pid_t pid, uint64_t want, bool up, mem_snap *m) {
        int r = wait_fds(pid, want, up);

        return r < 0 ? r : mem_snap_of(pid, m);
}

void mem_result(const char *name, const char *key, const mem_snap *a, const mem_snap *b, double n) {
        result *res = add_result(name, key, "-", UNIT_BYTES);

        if (!res)
                return;
        res->mc.v = ((double) b->pss - (double) a->pss) / n;
        res->mc.aux = ((double) b->rss - (double) a->rss) / n;
        snprintf(res->base_name, sizeof(res->base_name), "-");
        snprintf(res->extra, sizeof(res->extra),
                 "virtual %+.0f B, descriptors %+.2f, VMAs %+.2f per item",
                 ((double) b->vsz - (double) a->vsz) / n, ((double) b->fds - (double) a->fds) / n,
                 ((double) b->vmas - (double) a->vmas) / n);
}

int bench_memory(run_info *info) {
        mem_info *m = &info->mem;
        server *s = &info->mem_srv;
        char *argv[] = {info->memcapd,      (char *) "-s", paths[P_MEM_SOCK], (char *) "-r",
                        paths[P_ROOT],      (char *) "-c", paths[P_CONFIG],   (char *) "-l",
                        (char *) "warning", NULL};
        int fds[N_IDLE], ctl = -1, r;
        char reply[512];
        size_t n_open = 0;

        for (size_t i = 0; i < N_IDLE; i++)
                fds[i] = -1;
        r = place(info, &(placement){"unpinned", "unpinned", -1, -1});
        if (r < 0)
                return r;
        *s = (server){"memcapd (memory)", 0, paths[P_MEM_LOG]};
        r = spawn(argv, paths[P_MEM_LOG], -1, NULL, &s->pid);
        if (r < 0)
                return r;
        m->pid = s->pid;
        r = wait_ready(s, probe_unix, paths[P_MEM_SOCK]);
        if (r < 0)
                goto out;
        r = snap_settled(s->pid, 50000, &m->s0);
        if (r < 0)
                goto out;

        /* 1000 connections that never send anything. */
        for (; n_open < N_IDLE; n_open++) {
                r = unix_connect(paths[P_MEM_SOCK], &fds[n_open]);
                if (r < 0) {
                        r = bench_fail_errno(-r, "opening idle connections");
                        goto out;
                }
                set_timeout(fds[n_open]);
        }
        r = snap_at_fds(s->pid, m->s0.fds + N_IDLE, true, &m->s_conn);
        if (r < 0)
                goto out;

        /* One Hello on each: a connection that has been used, then idles. */
        for (size_t i = 0; i < N_IDLE && r >= 0; i++)
                r = daemon_call(fds[i], "{\"Hello\":{}}\n", reply, sizeof(reply), NULL);
        if (r < 0)
                goto out;
        r = snap_settled(s->pid, 20000, &m->s_req);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < N_IDLE; i++) {
                close(fds[i]);
                fds[i] = -1;
        }
        r = snap_at_fds(s->pid, m->s0.fds, false, &m->s_closed);
        if (r < 0)
                goto out;

        /* 1000 small mappings from one client. */
        r = unix_connect(paths[P_MEM_SOCK], &ctl);
        if (r < 0) {
                r = bench_fail_errno(-r, "connecting to memcapd");
                goto out;
        }
        set_timeout(ctl);
        r = daemon_call(ctl, "{\"Hello\":{}}\n", reply, sizeof(reply), NULL);
        if (r < 0)
                goto out;
        r = snap_settled(s->pid, 20000, &m->s_map0);
        for (size_t i = 0; i < N_IDLE && r >= 0; i++) {
                uint64_t id;

                r = daemon_mmap(ctl, "/small.bin", &id);
        }
        if (r < 0)
                goto out;
        r = snap_settled(s->pid, 20000, &m->s_map);
        if (r < 0)
                goto out;
        m->done = true;
        mem_result("daemon memory per idle connection", "memory_per_idle_connection", &m->s0,
                   &m->s_conn, N_IDLE);
        mem_result("  the same after one request (Hello) each", "memory_per_used_connection",
                   &m->s0, &m->s_req, N_IDLE);
        mem_result("daemon memory per mapping (4 KiB file)", "memory_per_mapping", &m->s_map0,
                   &m->s_map, N_IDLE);
out:
        for (size_t i = 0; i < N_IDLE; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (s->pid > 0) {
                /* With its 1000 mappings: the graceful stop syncs and unmaps them all. */
                m->stop_status = server_stop(s, &m->stop_ns);
                if (r >= 0 && !(WIFEXITED(m->stop_status) && WEXITSTATUS(m->stop_status) == 0))
                        bench_note("memcapd (memory) did not exit 0 on SIGTERM (status 0x%x)",
                                   m->stop_status);
        }
        if (ctl >= 0)
                close(ctl);
        return r;
}
