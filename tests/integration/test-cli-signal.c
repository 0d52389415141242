/* SPDX-License-Identifier: MIT */
/*
 * memcap signal send|wait|list, run as users run it: each test spawns the real binary
 * ($MEMCAP_BUILD_ROOT/src/cli/memcap) and checks what it printed, its exit status, and - for
 * send - what a forked receiver process actually got from the kernel: the signal, its si_code,
 * the sender's pid (which must be memcap's) and the sigqueue value. For wait the test is the
 * sender, and memcap's --ready-fd tells it when sending can no longer race with the blocking.
 *
 * Sections: spawning, receivers, send, wait, list and help.
 */

#include "mctest.h"
#include "spawn.h"

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* ---- spawning ------------------------------------------------------------------------------ */

/*
 * The receivers are the test's children, not memcap's: a target the default policy refuses
 * (it allows only self and children). Tests about sending itself opt in to same_uid.
 */
static char same_uid_policy[PATH_MAX];

/* A policy file in tmpdir holding @json; its path in @buf. */
static void policy_file_named(char *buf, size_t size, const char *name, const char *json) {
        tmp_path(buf, size, name);
        write_file(buf, json, strlen(json));
}

static void policy_file(char *buf, size_t size, const char *json) {
        policy_file_named(buf, size, "policy.json", json);
}

static void cli_signal_init(void) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/memcap-test-cli-signal-%d", (int) getpid());
        cr_assert(eq(int, mkdir(tmpdir, 0700), 0), "mkdir %s: %s", tmpdir, strerror(errno));
        policy_file_named(same_uid_policy, sizeof(same_uid_policy), "same-uid.json",
                          "{\"allowed_signal_targets\": [\"same_uid\"]}");
}

static void cli_signal_fini(void) {
        remove_tree(tmpdir);
        mc_test_fini();
}

TestSuite(cli_signal, .init = cli_signal_init, .fini = cli_signal_fini, .timeout = 120);

/*
 * memcap starts with no signal blocked and every disposition at its default, as from a shell,
 * whatever this test process did to its own.
 */
#define AS_FROM_SHELL (SPAWN_NO_STDIN | SPAWN_DEFAULT_SIGNALS)

#define RUN(res, ...)                                                                              \
        run_full((res), NULL, 0, NULL, AS_FROM_SHELL, (const char *const[]){__VA_ARGS__, NULL})

#define SEND(res, ...) RUN(res, "--policy", same_uid_policy, "signal", "send", __VA_ARGS__)

static bool contains(const char *haystack, const char *needle) {
        return strstr(haystack, needle) != NULL;
}

static void fmt(char *buf, size_t size, const char *format, ...) _printf_(3, 4);
static void fmt(char *buf, size_t size, const char *format, ...) {
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(buf, size, format, ap);
        va_end(ap);
        cr_assert(lt(sz, (size_t) n, size));
}

/* A pid that is free: a child that has come and gone (reaped, so not even a zombie). */
static pid_t gone_pid(void) {
        pid_t pid = fork();
        int status;

        cr_assert(ge(int, pid, 0));
        if (pid == 0)
                _exit(0);
        cr_assert(eq(int, waitpid(pid, &status, 0), pid));
        return pid;
}

/*
 * memcap @head... @option VALUE for each of @values: each run a usage error (exit 2) whose message
 * names @option, with nothing on stdout when @quiet. A failure names the value.
 */
static void expect_bad_values(const char *const *head, const char *option,
                              const char *const *values, size_t n, bool quiet) {
        const char *args[16];
        size_t k = 0;
        run_result r;

        for (; head[k]; k++) {
                cr_assert(lt(sz, k + 3, ELEMENTSOF(args)));
                args[k] = head[k];
        }
        args[k] = option;
        args[k + 2] = NULL;
        for (size_t i = 0; i < n; i++) {
                args[k + 1] = values[i];
                run_full(&r, NULL, 0, NULL, AS_FROM_SHELL, args);
                ASSERT_EXIT(&r, 2);
                if (quiet)
                        cr_assert(eq(str, r.out, ""), "%s", values[i]);
                cr_assert(contains(r.err, option), "%s: %s", values[i], r.err);
                run_result_done(&r);
        }
}

#define EXPECT_BAD_VALUES(option, values, quiet, ...)                                              \
        expect_bad_values((const char *const[]){__VA_ARGS__, NULL}, (option), (values),            \
                          ELEMENTSOF(values), (quiet))

/* ---- receivers ------------------------------------------------------------------------------ */

/* What a receiver took with sigwaitinfo(), as it reports it through its pipe. */
typedef struct report {
        int signo;
        int code;
        pid_t pid;
        uid_t uid;
        int value_int;
        uint64_t value_ptr;
} report;

typedef struct receiver {
        pid_t pid;
        char arg[16]; /* the pid as memcap takes it */
        int report;   /* read end */
} receiver;

/*
 * The signal a test sends after memcap to learn that memcap's signal did not arrive: pending
 * standard and lower realtime signals are dequeued before it, so when the receiver reports the
 * marker, nothing else was pending.
 */
#define MARKER SIGRTMAX

/*
 * Fork a process that takes one of @signo and MARKER with sigwaitinfo() and reports it. The
 * set is blocked before fork(), so nothing sent after this returns can be lost. With
 * @own_group it leads a process group of its own.
 */
static void receiver_start(receiver *rc, int signo, bool own_group) {
        sigset_t set, old;
        int p[2];

        sigemptyset(&set);
        sigaddset(&set, signo);
        sigaddset(&set, MARKER);
        cr_assert(eq(int, sigprocmask(SIG_BLOCK, &set, &old), 0));
        cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
        rc->pid = fork();
        cr_assert(ge(int, rc->pid, 0));
        if (rc->pid == 0) {
                report rep = {};
                siginfo_t si;

                close(p[0]);
                if (own_group)
                        setpgid(0, 0);
                alarm(60); /* never outlive a test that failed half-way */
                if (sigwaitinfo(&set, &si) < 0)
                        _exit(1);
                rep.signo = si.si_signo;
                rep.code = si.si_code;
                rep.pid = si.si_pid;
                rep.uid = si.si_uid;
                rep.value_int = si.si_value.sival_int;
                rep.value_ptr = (uint64_t) (uintptr_t) si.si_value.sival_ptr;
                _exit(write(p[1], &rep, sizeof(rep)) == (ssize_t) sizeof(rep) ? 0 : 1);
        }
        /* Both sides set the group, so it exists before either goes on. */
        if (own_group)
                cr_assert(eq(int, setpgid(rc->pid, rc->pid), 0), "%s", strerror(errno));
        cr_assert(eq(int, sigprocmask(SIG_SETMASK, &old, NULL), 0));
        close(p[1]);
        rc->report = p[0];
        fmt(rc->arg, sizeof(rc->arg), "%d", (int) rc->pid);
}

/* The receiver's report (it has taken a signal), after which it is reaped. */
static report receiver_report(receiver *rc) {
        struct pollfd p = {rc->report, POLLIN, 0};
        report rep;
        int status;

        cr_assert(eq(int, poll(&p, 1, 30000), 1), "the receiver got no signal");
        cr_assert(eq(sz, (size_t) read(rc->report, &rep, sizeof(rep)), sizeof(rep)),
                  "the receiver died without a report");
        close(rc->report);
        cr_assert(eq(int, waitpid(rc->pid, &status, 0), rc->pid));
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        cr_assert(clean, "the receiver failed: status 0x%x", (unsigned) status);
        return rep;
}

/* Assert that nothing but the marker reached the receiver, and reap it. */
static void receiver_expect_nothing(receiver *rc) {
        report rep;

        cr_assert(eq(int, kill(rc->pid, MARKER), 0));
        rep = receiver_report(rc);
        cr_assert(eq(int, rep.signo, MARKER), "the receiver got signal %d", rep.signo);
}

/* The run @r succeeded and the receiver took @signo; its report, after which it is reaped. */
static report expect_delivered(run_result *r, receiver *rc, int signo) {
        report rep;

        ASSERT_EXIT(r, 0);
        rep = receiver_report(rc);
        cr_assert(eq(int, rep.signo, signo));
        return rep;
}

/* ---- send ----------------------------------------------------------------------------------- */

Test(cli_signal, send_reaches_the_process_from_memcap) {
        static const struct {
                const char *text;
                int signo;
        } names[] = {{"USR1", SIGUSR1},
                     {"SIGUSR2", SIGUSR2},
                     {"sigterm", SIGTERM},
                     {"15", SIGTERM},
                     {"rtmax-1", 0}};
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                int signo = names[i].signo ? names[i].signo : SIGRTMAX - 1;
                receiver rc;
                report rep;

                receiver_start(&rc, signo, false);
                SEND(&r, rc.arg, names[i].text);
                ASSERT_EXIT(&r, 0);
                cr_assert(eq(str, r.out, ""));
                cr_assert(eq(str, r.err, ""));
                rep = receiver_report(&rc);
                cr_assert(eq(int, rep.signo, signo), "%s", names[i].text);
                cr_assert(eq(int, rep.code, SI_USER));
                cr_assert(eq(int, rep.pid, r.pid), "sent by %d, memcap was %d", rep.pid, r.pid);
                cr_assert(eq(u32, rep.uid, getuid()));
                run_result_done(&r);
        }
}

Test(cli_signal, send_value_is_user_data_for_standard_signals) {
        static const struct {
                const char *text;
                int value;
        } values[] = {{"-7", -7},
                      {"0", 0},
                      {"2147483647", INT32_MAX},
                      {"-2147483648", INT32_MIN},
                      {"0x10", 16}};
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                receiver rc;
                report rep;

                receiver_start(&rc, SIGUSR2, false);
                /* The value before the positionals too: a negative one is no option. */
                if (i % 2)
                        SEND(&r, "--value", values[i].text, rc.arg, "USR2");
                else
                        SEND(&r, rc.arg, "USR2", "--value", values[i].text);
                rep = expect_delivered(&r, &rc, SIGUSR2);
                cr_assert(eq(int, rep.code, SI_QUEUE));
                cr_assert(eq(int, rep.pid, r.pid));
                cr_assert(eq(int, rep.value_int, values[i].value), "%s", values[i].text);
                run_result_done(&r);
        }
}

Test(cli_signal, send_value_is_64_bits_for_realtime_signals) {
        static const struct {
                const char *text;
                uint64_t value;
        } values[] = {{"0x123456789abcdef0", UINT64_C(0x123456789abcdef0)},
                      {"18446744073709551615", UINT64_MAX},
                      {"4294967296", UINT64_C(4294967296)}};
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                receiver rc;
                report rep;

                receiver_start(&rc, SIGRTMIN + 2, false);
                SEND(&r, rc.arg, "rtmin+2", "--value", values[i].text);
                rep = expect_delivered(&r, &rc, SIGRTMIN + 2);
                cr_assert(eq(int, rep.code, SI_QUEUE));
                cr_assert(eq(int, rep.pid, r.pid));
                cr_assert(eq(u64, rep.value_ptr, values[i].value), "%s", values[i].text);
                run_result_done(&r);
        }
}

Test(cli_signal, send_pidfd) {
        receiver rc;
        run_result r;
        report rep;

        receiver_start(&rc, SIGUSR1, false);
        SEND(&r, "--pidfd", rc.arg, "SIGUSR1");
        rep = expect_delivered(&r, &rc, SIGUSR1);
        cr_assert(eq(int, rep.pid, r.pid));
        run_result_done(&r);

        /* With a payload, through pidfd_send_signal's siginfo. */
        receiver_start(&rc, SIGRTMIN + 1, false);
        SEND(&r, rc.arg, "RTMIN+1", "--pidfd", "--value", "0xfeedface12345678");
        rep = expect_delivered(&r, &rc, SIGRTMIN + 1);
        cr_assert(eq(int, rep.code, SI_QUEUE));
        cr_assert(eq(int, rep.pid, r.pid));
        cr_assert(eq(u64, rep.value_ptr, UINT64_C(0xfeedface12345678)));
        run_result_done(&r);
}

Test(cli_signal, send_to_process_group) {
        char pgid[16], policy[PATH_MAX];
        receiver rc;
        run_result r;
        report rep;

        /* Whole groups are opt-in, and this one is led by a process that is not memcap's. */
        policy_file(policy, sizeof(policy),
                    "{\"allowed_signal_targets\": [\"any\", \"whole_group\"]}");
        receiver_start(&rc, SIGUSR1, true);
        fmt(pgid, sizeof(pgid), "-%d", (int) rc.pid);
        RUN(&r, "--policy", policy, "signal", "send", pgid, "USR1");
        rep = expect_delivered(&r, &rc, SIGUSR1);
        cr_assert(eq(int, rep.pid, r.pid));
        run_result_done(&r);

        /* Under the default policy another group is not a target. */
        receiver_start(&rc, SIGUSR1, true);
        fmt(pgid, sizeof(pgid), "-%d", (int) rc.pid);
        RUN(&r, "signal", "send", pgid, "USR1");
        EXPECT_RUN(&r, 18, NULL, "allowed_signal_targets");

        /* sigqueue and pidfds address one process, never a group. */
        RUN(&r, "--policy", policy, "signal", "send", pgid, "USR1", "--value", "1");
        EXPECT_RUN(&r, 2, NULL, "--value");
        RUN(&r, "--policy", policy, "signal", "send", "--pidfd", pgid, "USR1");
        EXPECT_RUN(&r, 2, NULL, "--pidfd");
        receiver_expect_nothing(&rc);

        /* "--" ends the options; a negative PID after it is still a PID. */
        receiver_start(&rc, SIGUSR2, true);
        fmt(pgid, sizeof(pgid), "-%d", (int) rc.pid);
        RUN(&r, "--policy", policy, "signal", "send", "--", pgid, "USR2");
        expect_delivered(&r, &rc, SIGUSR2);
        run_result_done(&r);
}

Test(cli_signal, send_unknown_signal_is_invalid_signal) {
        static const char *const bad[] = {"FOO", "00", "SIG0", "65", "RTMIN+99",
                                          "SIG", "-",  "1x",   ""};
        receiver rc;
        run_result r;

        receiver_start(&rc, SIGUSR1, false);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                RUN(&r, "signal", "send", rc.arg, bad[i]);
                ASSERT_EXIT(&r, 20);
                cr_assert(eq(str, r.out, ""));
                cr_assert(eq(int, strncmp(r.err, "memcap: ", 8), 0), "%s", r.err);
                run_result_done(&r);
        }
        /* 32 and 33 are numbers glibc keeps for itself: not signals we may send. */
        RUN(&r, "signal", "send", rc.arg, "32");
        EXPECT_RUN(&r, 20, NULL, NULL);
        receiver_expect_nothing(&rc);
}

Test(cli_signal, send_to_missing_process_is_not_found) {
        char pid[16];
        run_result r;

        fmt(pid, sizeof(pid), "%d", (int) gone_pid());
        RUN(&r, "signal", "send", pid, "TERM");
        EXPECT_RUN(&r, 16, "", "no such process");

        RUN(&r, "signal", "send", "--pidfd", pid, "TERM");
        EXPECT_RUN(&r, 16, NULL, "no such process");

        RUN(&r, "signal", "send", pid, "USR1", "--value", "5");
        EXPECT_RUN(&r, 16, NULL, NULL);
}

Test(cli_signal, send_bad_value_is_usage_error) {
        static const char *const standard[] = {
                "abc", "2147483648", "-2147483649", "1.5", "",        "0x", "+1",
                " 1",  "1 ",         "0x80000000",  "0xg", "--value", "-",  "99999999999999999999",
                "1e3", "- 1"};
        static const char *const realtime[] = {
                "-1", "18446744073709551616", "0x10000000000000000", "0x", "x1", "-0x1"};
        receiver rc;
        run_result r;

        receiver_start(&rc, SIGUSR1, false);
        EXPECT_BAD_VALUES("--value", standard, true, "signal", "send", rc.arg, "USR1");
        EXPECT_BAD_VALUES("--value", realtime, false, "signal", "send", rc.arg, "RTMIN");
        /* A missing value is a usage error too, not a value of zero. */
        RUN(&r, "signal", "send", rc.arg, "USR1", "--value");
        EXPECT_RUN(&r, 2, NULL, NULL);
        receiver_expect_nothing(&rc);
}

Test(cli_signal, send_usage_errors) {
        run_result r;

        RUN(&r, "signal", "send");
        ASSERT_EXIT(&r, 2);
        cr_assert(contains(r.err, "missing PID"), "%s", r.err);
        cr_assert(contains(r.err, "memcap signal send --help"), "%s", r.err);
        run_result_done(&r);

        RUN(&r, "signal", "send", "1");
        EXPECT_RUN(&r, 2, NULL, "missing SIGNAL");

        RUN(&r, "signal", "send", "1", "TERM", "extra");
        EXPECT_RUN(&r, 2, NULL, NULL);

        RUN(&r, "signal", "send", "--frob", "1", "TERM");
        EXPECT_RUN(&r, 2, NULL, "--frob");

        /* Malformed process ids are InvalidArgument, as for `memcap maps`. */
        static const char *const pids[] = {"abc", "2147483648", "-2147483648", "1.0",
                                           "",    "0x10",       "TERM"};
        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                RUN(&r, "signal", "send", pids[i], "TERM");
                EXPECT_RUN(&r, 12, NULL, "invalid process id");
        }
}

Test(cli_signal, send_denied_by_policy) {
        char policy[PATH_MAX], log[PATH_MAX], line[4096];
        receiver rc;
        run_result r;
        FILE *f;
        bool denied = false;

        policy_file(policy, sizeof(policy),
                    "{\"allowed_signals\": [\"SIGUSR1\", \"TERM\"], "
                    "\"allowed_signal_targets\": [\"same_uid\"]}");
        tmp_path(log, sizeof(log), "audit.jsonl");
        receiver_start(&rc, SIGUSR2, false);
        RUN(&r, "--policy", policy, "--audit", log, "signal", "send", rc.arg, "USR2");
        EXPECT_RUN(&r, 18, "", "allowed_signals");
        RUN(&r, "--policy", policy, "signal", "send", "--pidfd", rc.arg, "USR2");
        EXPECT_RUN(&r, 18, NULL, NULL);
        receiver_expect_nothing(&rc);

        /* The denial is in the audit log as a signal_send. */
        f = fopen(log, "re");
        cr_assert(not(eq(ptr, f, NULL)));
        while (fgets(line, sizeof(line), f))
                denied |= contains(line, "signal_send") && contains(line, "PolicyViolation");
        fclose(f);
        cr_assert(denied, "no denied signal_send in the audit log");

        /* What the policy allows still goes through. */
        receiver_start(&rc, SIGUSR1, false);
        RUN(&r, "--policy", policy, "signal", "send", rc.arg, "USR1");
        expect_delivered(&r, &rc, SIGUSR1);
        run_result_done(&r);
}

Test(cli_signal, send_under_the_default_policy_names_the_rule_to_add) {
        char policy[PATH_MAX];
        receiver rc;
        run_result r;

        /* Neither memcap nor its child, in a group of its own: same_uid would admit it. */
        receiver_start(&rc, SIGUSR1, true);
        RUN(&r, "signal", "send", rc.arg, "USR1");
        ASSERT_EXIT(&r, 18);
        cr_assert(eq(str, r.out, ""));
        cr_assert(contains(r.err, "denied by policy rule allowed_signal_targets"), "%s", r.err);
        cr_assert(contains(r.err, "add \"same_uid\" to allowed_signal_targets"), "%s", r.err);
        run_result_done(&r);
        /* The existence check is judged the same way. */
        RUN(&r, "signal", "send", rc.arg, "0");
        EXPECT_RUN(&r, 18, NULL, NULL);
        /* pid 1 and the broadcast name their own rules, whatever else is allowed. */
        policy_file(policy, sizeof(policy), "{\"allowed_signal_targets\": [\"any\"]}");
        RUN(&r, "--policy", policy, "signal", "send", "1", "0");
        EXPECT_RUN(&r, 18, NULL, "add \"init\" to allowed_signal_targets");
        RUN(&r, "--policy", policy, "signal", "send", "-1", "0");
        EXPECT_RUN(&r, 18, NULL, "add \"broadcast\" to allowed_signal_targets");
        receiver_expect_nothing(&rc);

        /* The rule named is the rule that works. */
        receiver_start(&rc, SIGUSR1, true);
        SEND(&r, rc.arg, "USR1");
        expect_delivered(&r, &rc, SIGUSR1);
        run_result_done(&r);
}

Test(cli_signal, send_signal_zero_checks_without_sending) {
        char pid[16];
        receiver rc;
        run_result r;

        receiver_start(&rc, SIGUSR1, false);
        SEND(&r, rc.arg, "0");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(str, r.out, ""));
        cr_assert(eq(str, r.err, ""));
        run_result_done(&r);
        SEND(&r, "--pidfd", rc.arg, "0");
        EXPECT_RUN(&r, 0, NULL, NULL);
        receiver_expect_nothing(&rc);

        fmt(pid, sizeof(pid), "%d", (int) gone_pid());
        SEND(&r, pid, "0");
        EXPECT_RUN(&r, 16, NULL, "no such process");
}

/* The targets of the policy `memcap @args` prints, as one comma-separated string. */
static void policy_targets(char *buf, size_t size, const char *const *args) {
        run_result r = {};
        json_t *j, *t, *e;
        size_t i, n = 0;

        run_full(&r, NULL, 0, NULL, AS_FROM_SHELL, args);
        ASSERT_EXIT(&r, 0);
        j = parse_json(r.out);
        t = json_object_get(j, "allowed_signal_targets");
        cr_assert(is_type(JSON_ARRAY, t), "%s", r.out);
        buf[0] = 0;
        json_array_foreach(t, i, e) {
                int k = snprintf(buf + n, size - n, "%s%s", i ? "," : "", json_string_value(e));
                cr_assert(gt(int, k, 0));
                n += (size_t) k;
                cr_assert(lt(sz, n, size));
        }
        json_decref(j);
        run_result_done(&r);
}

Test(cli_signal, policy_output_shows_the_targets_the_library_enforces) {
        char got[256], policy[PATH_MAX];

        policy_targets(got, sizeof(got), (const char *const[]){"policy", "default", NULL});
        cr_assert(eq(str, got, "self,children"));
        policy_file(policy, sizeof(policy),
                    "{\"allowed_signal_targets\": [\"init\", \"broadcast\", \"whole_group\", "
                    "\"any\"]}");
        policy_targets(got, sizeof(got),
                       (const char *const[]){"policy", "check", policy, "--json", NULL});
        cr_assert(eq(str, got, "any,whole_group,broadcast,init"));
}

/* Run memcap as uid/gid 65534 (nobody), for what the kernel refuses to unprivileged users. */
static void run_as_nobody(run_result *res, const char *const *args) {
        run_full(res, NULL, 0, NULL, AS_FROM_SHELL | SPAWN_NOBODY, args);
}

Test(cli_signal, send_refused_by_kernel_is_permission_denied) {
        char policy[PATH_MAX];
        run_result r;

        /* Only the kernel stands in the way: the policy admits any target, init too. */
        policy_file(policy, sizeof(policy), "{\"allowed_signal_targets\": [\"any\", \"init\"]}");
        if (getuid() == 0) {
                receiver rc;

                /* memcap as nobody may neither read the policy in our 0700 directory... */
                cr_assert(eq(int, chmod(tmpdir, 0711), 0));
                receiver_start(&rc, SIGUSR1, false);
                run_as_nobody(&r, (const char *const[]){"--policy", policy, "signal", "send",
                                                        rc.arg, "USR1", NULL});
                EXPECT_RUN(&r, 11, NULL, "memcap: ");
                receiver_expect_nothing(&rc);
                return;
        }
        struct stat st;
        cr_assert(eq(int, stat("/proc/1", &st), 0));
        if (st.st_uid == getuid())
                cr_skip_test("pid 1 belongs to this user");
        RUN(&r, "--policy", policy, "signal", "send", "1", "USR1");
        EXPECT_RUN(&r, 11, NULL, NULL);
}

/* ---- wait ----------------------------------------------------------------------------------- */

/*
 * Start `memcap signal wait @args... --ready-fd 3` and return once memcap reported the signals
 * blocked; the caller sends and then collects with finish_child().
 */
static void wait_start(child *c, const char *const *args) {
        const char *full[32];
        struct pollfd p;
        int ready[2], fd3;
        size_t n = 0;
        char byte;
        ssize_t k;

        full[n++] = "signal";
        full[n++] = "wait";
        for (; *args; args++) {
                cr_assert(lt(sz, n, ELEMENTSOF(full) - 3));
                full[n++] = *args;
        }
        full[n++] = "--ready-fd";
        full[n++] = "3";
        full[n] = NULL;

        cr_assert(eq(int, pipe2(ready, O_CLOEXEC), 0));
        /* Out of the way of 3, where memcap gets it: dup2 onto itself would keep CLOEXEC. */
        fd3 = fcntl(ready[1], F_DUPFD_CLOEXEC, 10);
        cr_assert(ge(int, fd3, 10));
        close(ready[1]);
        spawn_child(c, full, NULL, fd3, AS_FROM_SHELL);
        close(fd3);

        p = (struct pollfd){ready[0], POLLIN, 0};
        cr_assert(eq(int, poll(&p, 1, 30000), 1), "memcap never became ready");
        k = read(ready[0], &byte, 1);
        if (k != 1) {
                run_result r = {};
                bool became_ready = false;

                finish_child(c, NULL, 0, &r);
                cr_assert(became_ready, "memcap exited before it was ready: exit %d\n%s", r.status,
                          r.err);
        }
        close(ready[0]);

        /* Nothing on stdout while waiting: scripts read it for the result only. */
        p = (struct pollfd){c->out, POLLIN, 0};
        cr_assert(eq(int, poll(&p, 1, 0), 0), "memcap printed before it got a signal");
}

Test(cli_signal, wait_json_reports_sender_and_payload) {
        run_result r = {};
        json_t *j, *payload;
        child c;

        wait_start(&c, (const char *const[]){"USR1", "--json", NULL});
        cr_assert(eq(int, sigqueue(c.pid, SIGUSR1, (union sigval){.sival_int = 1234}), 0));
        finish_child(&c, NULL, 0, &r);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(str, r.err, ""));

        j = parse_json(r.out);
        cr_assert(is_type(JSON_OBJECT, j));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(j, "signal")), "SIGUSR1"));
        cr_assert(eq(i64, json_integer_value(json_object_get(j, "signo")), SIGUSR1));
        cr_assert(eq(i64, json_integer_value(json_object_get(j, "source_pid")), getpid()));
        cr_assert(eq(i64, json_integer_value(json_object_get(j, "source_uid")), getuid()));
        /* sigqueue(3) wrote its pid and uid itself. */
        cr_assert(is_type(JSON_FALSE, json_object_get(j, "source_verified")), "%s", r.out);
        cr_assert(eq(i64, json_integer_value(json_object_get(j, "code")), SI_QUEUE));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(j, "code_name")), "SI_QUEUE"));
        cr_assert(eq(i64, json_integer_value(json_object_get(j, "status")), 0));
        payload = json_object_get(j, "payload");
        cr_assert(is_type(JSON_OBJECT, payload), "%s", r.out);
        cr_assert(
                eq(str, (char *) json_string_value(json_object_get(payload, "kind")), "UserData"));
        cr_assert(eq(i64, json_integer_value(json_object_get(payload, "value")), 1234));

        /* RFC 3339 in UTC, within a minute of now. */
        const char *when = json_string_value(json_object_get(j, "time"));
        struct tm tm = {};
        const char *rest;

        cr_assert(not(eq(ptr, (void *) when, NULL)));
        rest = strptime(when, "%Y-%m-%dT%H:%M:%S", &tm);
        cr_assert(not(eq(ptr, (void *) rest, NULL)), "%s", when);
        cr_assert(eq(sz, strlen(rest), 11), "%s", when); /* ".123456789Z" */
        cr_assert(eq(chr, rest[0], '.'));
        cr_assert(eq(chr, rest[10], 'Z'));
        cr_assert(lt(i64, llabs((long long) (timegm(&tm) - time(NULL))), 60));
        json_decref(j);
        run_result_done(&r);
}

Test(cli_signal, wait_text_reports_realtime_payload) {
        run_result r = {};
        char want[128];
        child c;

        wait_start(&c, (const char *const[]){"RTMIN+1", "usr2", NULL});
        cr_assert(eq(int,
                     sigqueue(c.pid, SIGRTMIN + 1,
                              (union sigval){.sival_ptr = (void *) (uintptr_t) 0xdeadbeefcafe}),
                     0));
        finish_child(&c, NULL, 0, &r);
        ASSERT_EXIT(&r, 0);
        fmt(want, sizeof(want), "SIGRTMIN+1 from pid %d (uid %u, claimed) at ", (int) getpid(),
            (unsigned) getuid());
        cr_assert(eq(int, strncmp(r.out, want, strlen(want)), 0), "%s", r.out);
        fmt(want, sizeof(want), " payload RealTime %llu code SI_QUEUE\n",
            (unsigned long long) 0xdeadbeefcafe);
        cr_assert(contains(r.out, want), "%s", r.out);
        cr_assert(eq(sz, r.out_len - strlen(want), (size_t) (strstr(r.out, want) - r.out)),
                  "one line: %s", r.out);
        run_result_done(&r);
}

Test(cli_signal, wait_text_marks_a_claimed_sender_only) {
        run_result r = {};
        char want[128];
        child c;

        /* kill(2): the kernel names the sender. */
        wait_start(&c, (const char *const[]){"USR2", NULL});
        cr_assert(eq(int, kill(c.pid, SIGUSR2), 0));
        finish_child(&c, NULL, 0, &r);
        ASSERT_EXIT(&r, 0);
        fmt(want, sizeof(want), "SIGUSR2 from pid %d (uid %u) at ", (int) getpid(),
            (unsigned) getuid());
        cr_assert(eq(int, strncmp(r.out, want, strlen(want)), 0), "%s", r.out);
        run_result_done(&r);

        /* A forged sigqueue(3): any pid the sender likes, marked as its claim. */
        wait_start(&c, (const char *const[]){"USR2", NULL});
        {
                siginfo_t si = {};

                si.si_signo = SIGUSR2;
                si.si_code = SI_QUEUE;
                si.si_pid = 1;
                si.si_uid = 0;
                cr_assert(eq(long, syscall(SYS_rt_sigqueueinfo, c.pid, SIGUSR2, &si), 0L), "%s",
                          strerror(errno));
        }
        finish_child(&c, NULL, 0, &r);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(int, strncmp(r.out, "SIGUSR2 from pid 1 (uid 0, claimed) at ", 39), 0), "%s",
                  r.out);
        run_result_done(&r);
}

Test(cli_signal, wait_takes_any_of_its_signals) {
        run_result r = {};
        json_t *j;
        child c;

        wait_start(&c, (const char *const[]){"--json", "USR1", "USR2", "TERM", NULL});
        cr_assert(eq(int, kill(c.pid, SIGTERM), 0));
        finish_child(&c, NULL, 0, &r);
        ASSERT_EXIT(&r, 0);
        j = parse_json(r.out);
        cr_assert(eq(str, (char *) json_string_value(json_object_get(j, "signal")), "SIGTERM"));
        cr_assert(eq(i64, json_integer_value(json_object_get(j, "code")), SI_USER));
        cr_assert(is_type(JSON_TRUE, json_object_get(j, "source_verified")), "%s", r.out);
        cr_assert(is_type(JSON_NULL, json_object_get(j, "payload")), "%s", r.out);
        json_decref(j);
        run_result_done(&r);

        /* A 64-bit value beyond JSON's exact integers comes as a decimal string. */
        wait_start(&c, (const char *const[]){"--json", "RTMAX", NULL});
        cr_assert(eq(int,
                     sigqueue(c.pid, SIGRTMAX,
                              (union sigval){.sival_ptr = (void *) (uintptr_t) UINT64_MAX}),
                     0));
        finish_child(&c, NULL, 0, &r);
        ASSERT_EXIT(&r, 0);
        j = parse_json(r.out);
        json_t *payload = json_object_get(j, "payload");
        cr_assert(
                eq(str, (char *) json_string_value(json_object_get(payload, "kind")), "RealTime"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(payload, "value")),
                     "18446744073709551615"),
                  "%s", r.out);
        json_decref(j);
        run_result_done(&r);
}

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

Test(cli_signal, wait_timeout_is_timed_out) {
        run_result r;
        double t0, dt;

        t0 = now_s();
        RUN(&r, "signal", "wait", "USR1", "--timeout", "0.2");
        dt = now_s() - t0;
        ASSERT_EXIT(&r, 19);
        cr_assert(eq(str, r.out, ""));
        cr_assert(eq(int, strncmp(r.err, "memcap: ", 8), 0), "%s", r.err);
        cr_assert(ge(dbl, dt, 0.2), "returned after %.3f s", dt);
        cr_assert(lt(dbl, dt, 2.0), "returned after %.3f s", dt);
        run_result_done(&r);

        /* 0 polls: a signal must already be pending, and none is. */
        RUN(&r, "signal", "wait", "--timeout", "0", "USR1", "--json");
        EXPECT_RUN(&r, 19, "", NULL);
}

Test(cli_signal, wait_usage_errors) {
        static const char *const timeouts[] = {"abc", "-1", "1e3", "0.1234567891", "1.",  ".5",
                                               "",    " 1", "1s",  "99999999999",  "0x10"};
        static const char *const fds[] = {"abc", "-1", "1", "2", "0", "999", ""};
        run_result r;

        RUN(&r, "signal", "wait");
        EXPECT_RUN(&r, 2, NULL, "missing SIGNAL");

        EXPECT_BAD_VALUES("--timeout", timeouts, false, "signal", "wait", "USR1");
        EXPECT_BAD_VALUES("--ready-fd", fds, false, "signal", "wait", "USR1");

        /* Signals that do not exist or cannot be waited for. */
        RUN(&r, "signal", "wait", "USR1", "NOPE", "--timeout", "0");
        EXPECT_RUN(&r, 20, NULL, NULL);
        RUN(&r, "signal", "wait", "KILL", "--timeout", "0");
        EXPECT_RUN(&r, 20, NULL, "SIGKILL");
        RUN(&r, "signal", "wait", "USR1", "STOP", "--timeout", "5");
        EXPECT_RUN(&r, 20, NULL, NULL);
}

Test(cli_signal, wait_denied_by_policy) {
        char policy[PATH_MAX];
        run_result r;

        policy_file(policy, sizeof(policy), "{\"allowed_syscalls\": [\"signal_send\"]}");
        RUN(&r, "--policy", policy, "signal", "wait", "USR1", "--timeout", "5");
        EXPECT_RUN(&r, 18, "", "signal_wait");
}

/* ---- list and help -------------------------------------------------------------------------- */

/* The line of @out that starts with "<spaces>@signo  ", or NULL. */
static const char *list_line(const char *out, int signo, char *buf, size_t size) {
        char head[16];
        const char *p = out;

        fmt(head, sizeof(head), "%d  ", signo);
        while (p && *p) {
                const char *end = strchr(p, '\n'), *s = p;
                size_t len = end ? (size_t) (end - p) : strlen(p);

                while (*s == ' ')
                        s++;
                if (strncmp(s, head, strlen(head)) == 0) {
                        cr_assert(lt(sz, len, size));
                        memcpy(buf, p, len);
                        buf[len] = 0;
                        return buf;
                }
                p = end ? end + 1 : NULL;
        }
        return NULL;
}

Test(cli_signal, list_table) {
        char line[256], want[64];
        run_result r;

        RUN(&r, "signal", "list");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(int, strncmp(r.out, "SIGNAL  NAME", 12), 0), "%s", r.out);
        cr_assert(not(eq(ptr, (void *) list_line(r.out, SIGTERM, line, sizeof(line)), NULL)));
        cr_assert(contains(line, " SIGTERM ") && contains(line, " Terminate "), "%s", line);
        cr_assert(not(eq(ptr, (void *) list_line(r.out, SIGCHLD, line, sizeof(line)), NULL)));
        cr_assert(contains(line, " SIGCHLD ") && contains(line, " Ignore "), "%s", line);
        cr_assert(not(eq(ptr, (void *) list_line(r.out, SIGSEGV, line, sizeof(line)), NULL)));
        cr_assert(contains(line, " Core "), "%s", line);
        cr_assert(not(eq(ptr, (void *) list_line(r.out, SIGSTOP, line, sizeof(line)), NULL)));
        cr_assert(contains(line, " Stop "), "%s", line);
        cr_assert(not(eq(ptr, (void *) list_line(r.out, SIGCONT, line, sizeof(line)), NULL)));
        cr_assert(contains(line, " Continue "), "%s", line);
        cr_assert(not(eq(ptr, (void *) list_line(r.out, SIGRTMIN, line, sizeof(line)), NULL)));
        cr_assert(contains(line, " SIGRTMIN "), "%s", line);
        cr_assert(not(eq(ptr, (void *) list_line(r.out, SIGRTMAX, line, sizeof(line)), NULL)));
        cr_assert(contains(line, " SIGRTMAX "), "%s", line);
        cr_assert(eq(ptr, (void *) list_line(r.out, SIGRTMAX + 1, line, sizeof(line)), NULL));
        fmt(want, sizeof(want), "SIGRTMIN..SIGRTMAX = %d..%d", SIGRTMIN, SIGRTMAX);
        cr_assert(contains(r.out, want), "%s", r.out);
        run_result_done(&r);

        /* An operand is a signal to translate (kill -l): one that is none is InvalidSignal. */
        RUN(&r, "signal", "list", "extra");
        EXPECT_RUN(&r, 20, NULL, "'extra'");
}

Test(cli_signal, list_json) {
        json_t *j, *a, *rt;
        run_result r;
        size_t i;
        json_t *e;

        RUN(&r, "signal", "list", "--json");
        ASSERT_EXIT(&r, 0);
        j = parse_json(r.out);
        a = json_object_get(j, "signals");
        cr_assert(is_type(JSON_ARRAY, a));
        cr_assert(eq(sz, json_array_size(a), (size_t) SIGRTMAX));
        json_array_foreach(a, i, e) {
                cr_assert(eq(i64, json_integer_value(json_object_get(e, "signo")), (long) i + 1));
                cr_assert(is_type(JSON_STRING, json_object_get(e, "default_action")));
                cr_assert(eq(int, json_is_true(json_object_get(e, "realtime")),
                             (int) i + 1 >= SIGRTMIN));
        }
        e = json_array_get(a, SIGTERM - 1);
        cr_assert(eq(str, (char *) json_string_value(json_object_get(e, "name")), "SIGTERM"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(e, "default_action")),
                     "Terminate"));
        cr_assert(is_type(JSON_STRING, json_object_get(e, "description")));
        e = json_array_get(a, SIGCHLD - 1);
        cr_assert(eq(str, (char *) json_string_value(json_object_get(e, "name")), "SIGCHLD"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(e, "default_action")),
                     "Ignore"));
        e = json_array_get(a, SIGRTMIN - 1);
        cr_assert(eq(str, (char *) json_string_value(json_object_get(e, "name")), "SIGRTMIN"));
        rt = json_object_get(j, "realtime");
        cr_assert(eq(i64, json_integer_value(json_object_get(rt, "min")), SIGRTMIN));
        cr_assert(eq(i64, json_integer_value(json_object_get(rt, "max")), SIGRTMAX));
        json_decref(j);
        run_result_done(&r);
}

Test(cli_signal, help_and_dispatch) {
        static const char *const subs[] = {"send", "wait", "list"};
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
                RUN(&r, "signal", subs[i], "--help");
                ASSERT_EXIT(&r, 0);
                cr_assert(eq(int, strncmp(r.out, "Usage: memcap signal send", 25), 0), "%s", r.out);
                cr_assert(eq(str, r.err, ""));
                run_result_done(&r);
        }
        RUN(&r, "signal", "--help");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(int, strncmp(r.out, "Usage: memcap signal", 20), 0), "%s", r.out);
        cr_assert(contains(r.out, "--ready-fd"), "%s", r.out);
        run_result_done(&r);
        RUN(&r, "help", "signal");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(int, strncmp(r.out, "Usage: memcap signal", 20), 0), "%s", r.out);
        run_result_done(&r);
        RUN(&r, "--help");
        ASSERT_EXIT(&r, 0);
        cr_assert(contains(r.out, "\n  signal "), "%s", r.out);
        run_result_done(&r);

        RUN(&r, "signal");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "signal", "frob");
        EXPECT_RUN(&r, 2, NULL, "unknown command 'frob'");
        RUN(&r, "signal", "--frob");
        EXPECT_RUN(&r, 2, NULL, NULL);
}
