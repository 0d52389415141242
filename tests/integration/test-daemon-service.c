/* SPDX-License-Identifier: MIT */
/*
 * memcapd as a service runs it: --check-config, SIGHUP reopening the audit log and the log (for
 * logrotate) with RELOADING=1 and READY=1 on the notify socket, the journal's priority prefixes on
 * standard error, and the journal audit sink. The built memcapd, started per test.
 *
 * Sections: the notify socket, --check-config, reopening on SIGHUP, the journal.
 */

#include "mctest.h"
#include "memcapd.h"
#include "spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mount.h>

#include "config.h" /* HAVE_LIBSYSTEMD */

static void fini(void) {
        daemon_cleanup();
        mc_test_fini();
}

TestSuite(daemon_service, .init = setup_dir, .fini = fini, .timeout = 120);

static void path_in(char *buf, size_t size, const char *name) {
        cr_assert(lt(int, snprintf(buf, size, "%s/%s", D.dir, name), (int) size));
}

#define ASSERT_HAS(hay, needle)                                                                    \
        cr_assert(not(eq(ptr, strstr((hay), (needle)), NULL)), "no '%s' in:\n%s", (needle), (hay))

/* ---- the notify socket ---------------------------------------------------------------------- */

/* A datagram socket at <dir>/notify, as systemd's NOTIFY_SOCKET; its descriptor. */
static int notify_socket(char *env, size_t size) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char path[200];
        int fd;

        path_in(path, sizeof(path), "notify");
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0));
        snprintf(env, size, "NOTIFY_SOCKET=%s", path);
        return fd;
}

/* The next datagram on @fd, a @kind ("notification"), within 20 s, NUL-terminated in @buf. */
static void datagram_next(int fd, const char *kind, char *buf, size_t size) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;

        cr_assert(eq(int, poll(&p, 1, 20000), 1), "no %s within 20 s", kind);
        n = recv(fd, buf, size - 1, 0);
        cr_assert(gt(int, (int) n, 0));
        buf[n] = 0;
}

/* Up to @tries datagrams until one holding @what (each within 20 s); it stays in @buf. */
static void datagram_until(int fd, const char *kind, int tries, const char *what, char *buf,
                           size_t size) {
        for (int i = 0; i < tries; i++) {
                datagram_next(fd, kind, buf, size);
                if (strstr(buf, what))
                        return;
        }
        cr_fatal("no %s with '%s'; the last was: %s", kind, what, buf);
}

/* Notifications until one holding @what; it stays in @buf. */
static void notify_until(int fd, const char *what, char *buf, size_t size) {
        datagram_until(fd, "notification", 16, what, buf, size);
}

/* SIGHUP the daemon and wait until it says the reload is over. */
static void reload_and_wait(int nfd) {
        char buf[512];

        cr_assert(eq(int, kill(D.pid, SIGHUP), 0));
        notify_until(nfd, "RELOADING=1", buf, sizeof(buf));
        notify_until(nfd, "READY=1", buf, sizeof(buf));
}

/* ---- --check-config ----------------------------------------------------------------------------
 */

Test(daemon_service, check_config_accepts_a_good_file_and_binds_nothing) {
        char conf[300], text[1024], sock[300], *out;

        path_in(conf, sizeof(conf), "good.json");
        path_in(sock, sizeof(sock), "never.sock");
        snprintf(text, sizeof(text),
                 "{\n  \"socket\": \"%s\",\n  \"root\": \"%s\",\n  \"audit\": \"%s/a.jsonl\",\n"
                 "  \"max_line\": \"1MiB\",\n  \"capabilities\": {\"0\": [\"FileRead\"]}\n}\n",
                 sock, D.root, D.dir);
        write_file(conf, text, strlen(text));
        cr_assert(eq(int, run_memcapd((char *[]){NULL, "--check-config", conf, NULL}, &out), 0),
                  "%s", out);
        ASSERT_HAS(out, "test is successful");
        cr_assert(lt(int, access(sock, F_OK), 0), "--check-config bound the socket");
        free(out);
}

/* `memcapd -t @conf` exits with @code and says @has (and @also, unless NULL). */
static void check_config(char *conf, int code, const char *has, const char *also) {
        char *out;

        cr_assert(eq(int, run_memcapd((char *[]){NULL, "-t", conf, NULL}, &out), code));
        ASSERT_HAS(out, has);
        if (also)
                ASSERT_HAS(out, also);
        free(out);
}

/* @path holds @text and nothing else. */
static void write_text(const char *path, const char *text) {
        write_file(path, text, strlen(text));
}

Test(daemon_service, check_config_names_the_line_and_column_of_a_wrong_value) {
        char conf[300], want[400];

        path_in(conf, sizeof(conf), "bad.json");
        /* Well-formed JSON, so the parser has nothing to say; the value is what is wrong. */
        write_text(conf, "{\n  \"max_connections\": 10,\n  \"send_timeout\": \"5 s\"\n}\n");
        snprintf(want, sizeof(want), "config '%s':3:19: \"send_timeout\" must be", conf);
        check_config(conf, 12, want, "test failed");

        /* Inside the capabilities: the member that is wrong. */
        write_text(conf,
                   "{\"capabilities\": {\n  \"0\": [\"FileRead\"],\n  \"1000\": [\"Fly\"]}}\n");
        snprintf(want, sizeof(want), "config '%s':3:11: \"capabilities\" lists", conf);
        check_config(conf, 12, want, NULL);

        /* An unknown field is placed too. */
        write_text(conf, "{\"root\": \"/x\",\n \"rooot\": \"/y\"}");
        snprintf(want, sizeof(want), "config '%s':2:11: \"rooot\" is not a configuration field",
                 conf);
        check_config(conf, 12, want, NULL);
}

Test(daemon_service, check_config_reports_syntax_policy_and_missing_files) {
        char conf[300], pol[300], text[600], want[400];

        path_in(conf, sizeof(conf), "c.json");
        write_text(conf, "{\"root\": \"/x\",\n  \"max_line\" 5}");
        snprintf(want, sizeof(want), "config '%s':2:", conf);
        check_config(conf, 12, want, NULL);

        /* The policy the file names is checked with it, with its own position. */
        path_in(pol, sizeof(pol), "policy.json");
        write_text(pol, "{\"allow_fixed\": false,\n \"max_memory_usage\": \"4Gix\"}");
        snprintf(text, sizeof(text), "{\"root\": \"%s\", \"policy\": \"%s\"}", D.root, pol);
        write_text(conf, text);
        snprintf(want, sizeof(want), "%s:2:22: \"max_memory_usage\"", pol);
        check_config(conf, 12, want, NULL);

        path_in(conf, sizeof(conf), "missing.json");
        check_config(conf, 16, "test failed", NULL);

        /* An audit log in a directory that does not exist would fail the start. */
        path_in(conf, sizeof(conf), "c.json");
        snprintf(text, sizeof(text), "{\"root\": \"%s\", \"audit\": \"%s/no/such/dir/a\"}", D.root,
                 D.dir);
        write_text(conf, text);
        check_config(conf, 16, "/no/such/dir", NULL);
}

/* ---- reopening on SIGHUP ------------------------------------------------------------------------
 */

/* Connect and close: the daemon writes a "connect" and a "disconnect" record. */
static void touch_daemon(void) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = NULL;
        mc_daemon_info info;

        cr_assert(eq(int, mc_daemon_connect(D.sock, &d, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_daemon_hello(d, &info, &err), 0), "%s", err.message);
        mc_daemon_close(d);
}

/* Wait (at most 20 s) until @path holds @needle. */
static void wait_for_text(const char *path, const char *needle) {
        int64_t end = mct_now_ms() + 20000;

        for (;;) {
                char *text = slurp(path);
                bool found = strstr(text, needle) != NULL;

                if (found || mct_now_ms() > end) {
                        cr_assert(found, "no '%s' in %s:\n%s", needle, path, text);
                        free(text);
                        return;
                }
                free(text);
                mct_sleep_ms(10);
        }
}

Test(daemon_service, sighup_reopens_the_audit_log_and_the_log) {
        char env[300], audit[300], rotated[300], log[300], log_rotated[300], *text;
        int nfd;

        if (!HAVE_LIBSYSTEMD)
                cr_skip_test("memcapd was built without libsystemd: no notifications");
        nfd = notify_socket(env, sizeof(env));
        path_in(audit, sizeof(audit), "audit.jsonl");
        path_in(rotated, sizeof(rotated), "audit.jsonl.1");
        path_in(log, sizeof(log), "service.log");
        path_in(log_rotated, sizeof(log_rotated), "service.log.1");
        daemon_start_args((const char *const[]){"--audit", audit, "--log", log, NULL},
                          (const char *const[]){env, NULL});
        notify_until(nfd, "READY=1", env, sizeof(env));
        touch_daemon();
        wait_for_text(audit, "\"disconnect\"");
        wait_for_text(log, "serving");

        /* What logrotate does: rename, then SIGHUP (its postrotate). */
        cr_assert(eq(int, rename(audit, rotated), 0));
        cr_assert(eq(int, rename(log, log_rotated), 0));
        reload_and_wait(nfd);
        touch_daemon();
        wait_for_text(audit, "\"disconnect\"");
        /* The old file got nothing after the rename. */
        text = slurp(rotated);
        {
                /* One Hello before the rotation, one after: the old file has the first only. */
                size_t n = 0;

                for (const char *p = text; (p = strstr(p, "\"call\":\"Hello\"")); p++)
                        n++;
                cr_assert(eq(sz, n, 1), "records after the rename went to the old file:\n%s", text);
        }
        free(text);
        wait_for_text(log, "reloaded");
        text = slurp(log_rotated);
        cr_assert(eq(ptr, strstr(text, "reloaded"), NULL), "the log was not reopened:\n%s", text);
        free(text);
        daemon_stop();
        close(nfd);
}

Test(daemon_service, reload_notifies_reloading_with_its_start_then_ready) {
        char env[300], buf[512];
        struct timespec ts;
        unsigned long long usec = 0, before;
        const char *p;
        int nfd;

        if (!HAVE_LIBSYSTEMD)
                cr_skip_test("memcapd was built without libsystemd: no notifications");
        nfd = notify_socket(env, sizeof(env));
        daemon_start_args(NULL, (const char *const[]){env, NULL});
        notify_until(nfd, "READY=1", buf, sizeof(buf));
        clock_gettime(CLOCK_MONOTONIC, &ts);
        before = (unsigned long long) ts.tv_sec * 1000000 + (unsigned long long) ts.tv_nsec / 1000;
        cr_assert(eq(int, kill(D.pid, SIGHUP), 0));
        notify_until(nfd, "RELOADING=1", buf, sizeof(buf));
        p = strstr(buf, "MONOTONIC_USEC=");
        cr_assert(not(eq(ptr, (void *) p, NULL)), "RELOADING=1 without MONOTONIC_USEC: %s", buf);
        cr_assert(eq(int, sscanf(p, "MONOTONIC_USEC=%llu", &usec), 1));
        cr_assert(ge(u64, usec, before), "MONOTONIC_USEC %llu is before the SIGHUP (%llu)", usec,
                  before);
        /* The next one ends the reload. */
        datagram_next(nfd, "notification", buf, sizeof(buf));
        ASSERT_HAS(buf, "READY=1");
        daemon_stop();
        close(nfd);
}

/* ---- the journal
 * ---------------------------------------------------------------------------------- */

/* Start the daemon with $JOURNAL_STREAM naming its stderr (the log file) when @journal. */
static void start_with_stream(bool journal) {
        char env[128];
        struct stat st;
        int fd = open(D.log, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, fstat(fd, &st), 0));
        close(fd);
        /* Naming another file must not count: the prefix is for the journal's stream only. */
        snprintf(env, sizeof(env), "JOURNAL_STREAM=%llu:%llu", (unsigned long long) st.st_dev,
                 (unsigned long long) st.st_ino + (journal ? 0 : 1));
        daemon_start_args((const char *const[]){"--log-level", "debug", NULL},
                          (const char *const[]){env, NULL});
}

Test(daemon_service, stderr_lines_carry_priorities_on_the_journal_stream) {
        char *text;

        start_with_stream(true);
        daemon_stop();
        text = slurp(D.log);
        ASSERT_HAS(text, "<6>memcapd: serving");
        ASSERT_HAS(text, "<6>memcapd: SIGTERM");
        for (char *line = text; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                cr_assert(eq(chr, line[0], '<'), "a line without its priority:\n%s", text);
        free(text);
}

Test(daemon_service, stderr_lines_are_plain_elsewhere) {
        char *text;

        start_with_stream(false);
        daemon_stop();
        text = slurp(D.log);
        ASSERT_HAS(text, "memcapd: serving");
        cr_assert(eq(ptr, strchr(text, '<'), NULL), "a priority prefix off the journal:\n%s", text);
        free(text);
}

/*
 * The journal sink, received where sd_journal_send() sends: the daemon runs in a mount namespace
 * of its own whose /run/systemd/journal/socket is a datagram socket of this test, so nothing of
 * the machine's journal is touched. Needs the privilege to make mount namespaces (root).
 */
static char journal_sock[200];

/* In the child: /run a fresh tmpfs, /run/systemd/journal/socket our socket. */
static void enter_journal_namespace(void) {
        int fd;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0 ||
            mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/journal", 0755) < 0)
                _exit(124);
        fd = open("/run/systemd/journal/socket", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                _exit(124);
        close(fd);
        if (mount(journal_sock, "/run/systemd/journal/socket", NULL, MS_BIND, NULL) < 0)
                _exit(124);
}

/* Whether this process may make the namespace above (a child tries). */
static bool can_enter_journal_namespace(void) {
        pid_t pid = fork();
        int status;

        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
                if (unshare(CLONE_NEWNS) < 0 ||
                    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
                        _exit(1);
                _exit(0);
        }
        status = mct_wait_pid(pid, 20000);
        return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Test(daemon_service, audit_journal_sends_records_with_memcap_fields) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char buf[16384];
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = NULL;
        uint64_t id;
        int jfd;

        if (!HAVE_LIBSYSTEMD)
                cr_skip_test("memcapd was built without libsystemd: no journal sink");
        if (!can_enter_journal_namespace())
                cr_skip_test("no mount namespaces here (needs root): cannot stand in for the "
                             "journal");
        path_in(journal_sock, sizeof(journal_sock), "journal");
        memcpy(sa.sun_path, journal_sock, strlen(journal_sock) + 1);
        jfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert(ge(int, jfd, 0));
        cr_assert(eq(int, bind(jfd, (struct sockaddr *) &sa, sizeof(sa)), 0));
        daemon_pre_exec = enter_journal_namespace;
        daemon_start_args((const char *const[]){"--audit-journal", NULL}, NULL);

        /* A file that is not there: an error the daemon audits. */
        cr_assert(eq(int, mc_daemon_connect(D.sock, &d, &err), 0), "%s", err.message);
        cr_assert(lt(int, mc_daemon_mmap(d, "/nope", 0, 0, MC_PROT_READ, 0, &id, NULL, &err), 0));
        mc_daemon_close(d);

        /* The journal fields of one native-protocol datagram. */
        datagram_until(jfd, "journal entry", 64, "MEMCAP_OUTCOME=error", buf, sizeof(buf));
        ASSERT_HAS(buf, "MEMCAP_CAPABILITY=");
        ASSERT_HAS(buf, "MEMCAP_OPERATION=");
        ASSERT_HAS(buf, "MEMCAP_ERROR_KIND=NotFound");
        ASSERT_HAS(buf, "MEMCAP_CALL=Mmap");
        ASSERT_HAS(buf, "PRIORITY=4");
        ASSERT_HAS(buf, "MEMCAP_RECORD={");
        ASSERT_HAS(buf, "MESSAGE=memcap audit: ");
        {
                char want[64];

                snprintf(want, sizeof(want), "MEMCAP_CLIENT_PID=%d", (int) getpid());
                ASSERT_HAS(buf, want);
        }
        daemon_stop();
        close(jfd);
}
