/* SPDX-License-Identifier: MIT */
/*
 * Signal names both ways: every standard Linux signal, case and "SIG" variants, the realtime
 * range and its bounds (resolved at run time), numbers, garbage and short buffers.
 */

#include "common.h"

#include <signal.h>
#include <stdio.h>

TestSuite(signame, .fini = mc_test_fini);

static const struct {
        const char *name;
        int signo;
} standard[] = {
        {"SIGHUP", SIGHUP},     {"SIGINT", SIGINT},       {"SIGQUIT", SIGQUIT},
        {"SIGILL", SIGILL},     {"SIGTRAP", SIGTRAP},     {"SIGABRT", SIGABRT},
        {"SIGBUS", SIGBUS},     {"SIGFPE", SIGFPE},       {"SIGKILL", SIGKILL},
        {"SIGUSR1", SIGUSR1},   {"SIGSEGV", SIGSEGV},     {"SIGUSR2", SIGUSR2},
        {"SIGPIPE", SIGPIPE},   {"SIGALRM", SIGALRM},     {"SIGTERM", SIGTERM},
        {"SIGSTKFLT", 16},      {"SIGCHLD", SIGCHLD},     {"SIGCONT", SIGCONT},
        {"SIGSTOP", SIGSTOP},   {"SIGTSTP", SIGTSTP},     {"SIGTTIN", SIGTTIN},
        {"SIGTTOU", SIGTTOU},   {"SIGURG", SIGURG},       {"SIGXCPU", SIGXCPU},
        {"SIGXFSZ", SIGXFSZ},   {"SIGVTALRM", SIGVTALRM}, {"SIGPROF", SIGPROF},
        {"SIGWINCH", SIGWINCH}, {"SIGIO", SIGIO},         {"SIGPWR", SIGPWR},
        {"SIGSYS", SIGSYS},
};

static int parse(const char *name) {
        mc_error err = MC_ERROR_INIT;
        int signo = -12345;
        int r = mc_signal_from_name(name, &signo, &err);

        cr_assert(eq(int, r, 0), "'%s': %s", name, err.message);
        cr_assert(eq(int, err.kind, MC_OK), "err is written only on failure");
        return signo;
}

/* Parsing fails with InvalidSignal, quotes the name, and leaves the output alone. */
static void parse_fails(const char *name, const char *quoted) {
        mc_error err = MC_ERROR_INIT;
        int signo = -12345;
        int r = mc_signal_from_name(name, &signo, &err);

        cr_assert(eq(int, r, -EINVAL), "'%s' parsed as %d", name, signo);
        cr_assert(eq(int, signo, -12345));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, err.sys_errno, EINVAL));
        if (quoted) {
                char want[128];
                snprintf(want, sizeof(want), "'%s'", quoted);
                cr_assert(strstr(err.message, want) != NULL, "message '%s' does not quote %s",
                          err.message, want);
        }
        /* And without an error object it fails the same way. */
        cr_assert(eq(int, mc_signal_from_name(name, &signo, NULL), -EINVAL));
}

Test(signame, standard_table_matches_this_platform) {
        /* SIGSTKFLT is written as a number above; make sure that is what Linux calls it. */
        cr_assert(eq(int, SIGSTKFLT, 16));
        cr_assert(eq(int, parse("SIGPOLL"), SIGIO));
}

Test(signame, every_standard_signal_both_ways) {
        for (size_t i = 0; i < ELEMENTSOF(standard); i++) {
                char buf[16];
                const char *n = standard[i].name;

                cr_assert(eq(int, parse(n), standard[i].signo), "%s", n);
                cr_assert(eq(int, parse(n + 3), standard[i].signo), "%s without SIG", n);
                cr_assert(
                        eq(ptr, (void *) mc_signal_name(standard[i].signo, buf, sizeof(buf)), buf));
                cr_assert(eq(str, buf, (char *) n));
        }
}

Test(signame, case_insensitive) {
        cr_assert(eq(int, parse("sigusr1"), SIGUSR1));
        cr_assert(eq(int, parse("usr1"), SIGUSR1));
        cr_assert(eq(int, parse("SiGuSr2"), SIGUSR2));
        cr_assert(eq(int, parse("Term"), SIGTERM));
        cr_assert(eq(int, parse("poll"), SIGIO));
        cr_assert(eq(int, parse("sigrtmin"), SIGRTMIN));
        cr_assert(eq(int, parse("rtmax-1"), SIGRTMAX - 1));
        cr_assert(eq(int, parse("SigRtMin+2"), SIGRTMIN + 2));
}

Test(signame, poll_is_an_alias_and_io_is_canonical) {
        char buf[16];

        cr_assert(eq(int, parse("POLL"), SIGIO));
        cr_assert(eq(str, (char *) mc_signal_name(SIGPOLL, buf, sizeof(buf)), "SIGIO"));
}

Test(signame, realtime_names) {
        int span = SIGRTMAX - SIGRTMIN;
        char name[32];

        cr_assert(gt(int, span, 1), "this test needs a realtime range");
        cr_assert(eq(int, parse("RTMIN"), SIGRTMIN));
        cr_assert(eq(int, parse("SIGRTMIN"), SIGRTMIN));
        cr_assert(eq(int, parse("RTMIN+0"), SIGRTMIN));
        cr_assert(eq(int, parse("SIGRTMIN+3"), SIGRTMIN + 3));
        cr_assert(eq(int, parse("RTMAX"), SIGRTMAX));
        cr_assert(eq(int, parse("RTMAX-0"), SIGRTMAX));
        cr_assert(eq(int, parse("SIGRTMAX-1"), SIGRTMAX - 1));

        /* The bounds: RTMIN+span is RTMAX, RTMAX-span is RTMIN, one further is an error. */
        snprintf(name, sizeof(name), "RTMIN+%d", span);
        cr_assert(eq(int, parse(name), SIGRTMAX));
        snprintf(name, sizeof(name), "RTMAX-%d", span);
        cr_assert(eq(int, parse(name), SIGRTMIN));
        snprintf(name, sizeof(name), "RTMIN+%d", span + 1);
        parse_fails(name, name);
        snprintf(name, sizeof(name), "RTMAX-%d", span + 1);
        parse_fails(name, name);
}

Test(signame, realtime_garbage) {
        parse_fails("RTMIN+", "RTMIN+");
        parse_fails("RTMIN-1", "RTMIN-1");
        parse_fails("RTMAX+1", "RTMAX+1");
        parse_fails("RTMIN+-1", "RTMIN+-1");
        parse_fails("RTMIN+ 1", "RTMIN+ 1");
        parse_fails("RTMIN+1x", "RTMIN+1x");
        parse_fails("RTMIN+99999999999999999999", "RTMIN+99999999999999999999");
        parse_fails("RTMIN+4294967330", NULL); /* wraps to a small number in 32 bits */
        parse_fails("RTMINX", "RTMINX");
        parse_fails("RT", "RT");
}

Test(signame, realtime_canonical_names) {
        char buf[16], want[16];

        cr_assert(eq(str, (char *) mc_signal_name(SIGRTMIN, buf, sizeof(buf)), "SIGRTMIN"));
        cr_assert(eq(str, (char *) mc_signal_name(SIGRTMIN + 1, buf, sizeof(buf)), "SIGRTMIN+1"));
        cr_assert(eq(str, (char *) mc_signal_name(SIGRTMAX, buf, sizeof(buf)), "SIGRTMAX"));
        if (SIGRTMAX - SIGRTMIN >= 10)
                cr_assert(eq(str, (char *) mc_signal_name(SIGRTMIN + 10, buf, sizeof(buf)),
                             "SIGRTMIN+10"));

        /* Every realtime signal's name parses back to it, and 16 bytes are enough. */
        for (int s = SIGRTMIN; s <= SIGRTMAX; s++) {
                cr_assert(not(zero(ptr, (void *) mc_signal_name(s, buf, sizeof(buf)))), "%d", s);
                cr_assert(eq(int, parse(buf), s), "%s", buf);
        }
        /* Only SIGRTMAX itself is named from the top; its neighbour is RTMIN+n. */
        snprintf(want, sizeof(want), "SIGRTMIN+%d", SIGRTMAX - 1 - SIGRTMIN);
        cr_assert(eq(str, (char *) mc_signal_name(SIGRTMAX - 1, buf, sizeof(buf)), want));
}

Test(signame, every_signal_has_a_name_that_parses_back) {
        for (int s = 1; s <= SIGRTMAX; s++) {
                char buf[16];

                if (!mc_signal_name(s, buf, sizeof(buf))) {
                        /* Only glibc's reserved signals between the two ranges lack a name. */
                        cr_assert(gt(int, s, SIGSYS));
                        cr_assert(lt(int, s, SIGRTMIN));
                        continue;
                }
                cr_assert(eq(int, parse(buf), s), "%s", buf);
        }
}

Test(signame, numbers) {
        char name[16];

        cr_assert(eq(int, parse("1"), 1));
        cr_assert(eq(int, parse("10"), SIGUSR1));
        cr_assert(eq(int, parse("010"), 10), "decimal, not octal");
        snprintf(name, sizeof(name), "%d", SIGRTMAX);
        cr_assert(eq(int, parse(name), SIGRTMAX));
        /* Numbers of reserved signals are still numbers of this platform. */
        cr_assert(eq(int, parse("32"), 32));

        parse_fails("0", "0");
        snprintf(name, sizeof(name), "%d", SIGRTMAX + 1);
        parse_fails(name, name);
        parse_fails("-1", "-1");
        parse_fails("+1", "+1");
        parse_fails("1.0", "1.0");
        parse_fails("10 ", "10 ");
        parse_fails("0x10", "0x10");
        parse_fails("99999999999999999999", "99999999999999999999");
        parse_fails("4294967306", NULL); /* 10 modulo 2^32 */
}

Test(signame, garbage) {
        char longname[1000];
        mc_error err = MC_ERROR_INIT;
        int signo = 7;

        parse_fails("", "");
        parse_fails("SIG", "SIG");
        parse_fails("SIGFOO", "SIGFOO");
        parse_fails("FOO", "FOO");
        parse_fails("SIGHUPX", "SIGHUPX");
        parse_fails(" HUP", " HUP");
        parse_fails("HUP ", "HUP ");
        parse_fails("SIG HUP", "SIG HUP");
        parse_fails("SIGSIGHUP", "SIGSIGHUP");
        parse_fails("SIG10", "SIG10");
        parse_fails("IOT", "IOT");
        parse_fails("HUP\n", "HUP?");

        /* A long name is quoted cut short and the message stays within its buffer. */
        memset(longname, 'A', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        cr_assert(eq(int, mc_signal_from_name(longname, &signo, &err), -EINVAL));
        cr_assert(lt(sz, strlen(err.message), sizeof(err.message)));
        cr_assert(strstr(err.message, "AAAA...") != NULL, "%s", err.message);
        cr_assert(eq(int, signo, 7));

        cr_assert(eq(int, mc_signal_from_name(NULL, &signo, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, mc_signal_from_name("HUP", NULL, &err), -EINVAL));
}

Test(signame, message_names_the_problem) {
        mc_error err = MC_ERROR_INIT;
        char want[96];
        int signo;

        cr_assert(eq(int, mc_signal_from_name("SIGFOO", &signo, &err), -EINVAL));
        cr_assert(eq(str, err.message, "signal 'SIGFOO': no such signal"));
        cr_assert(eq(int, mc_signal_from_name("0", &signo, &err), -EINVAL));
        snprintf(want, sizeof(want), "signal '0': signal numbers are 1..%d", SIGRTMAX);
        cr_assert(eq(str, err.message, want));
}

Test(signame, not_a_signal_has_no_name) {
        char buf[16] = "unchanged";

        cr_assert(zero(ptr, (void *) mc_signal_name(0, buf, sizeof(buf))));
        cr_assert(zero(ptr, (void *) mc_signal_name(-1, buf, sizeof(buf))));
        cr_assert(zero(ptr, (void *) mc_signal_name(SIGRTMAX + 1, buf, sizeof(buf))));
        cr_assert(zero(ptr, (void *) mc_signal_name(INT32_MAX, buf, sizeof(buf))));
        cr_assert(zero(ptr, (void *) mc_signal_name(INT32_MIN, buf, sizeof(buf))));
        if (SIGRTMIN > 32)
                cr_assert(zero(ptr, (void *) mc_signal_name(32, buf, sizeof(buf))));
        cr_assert(zero(ptr, (void *) mc_signal_name(SIGUSR1, NULL, 16)));
}

Test(signame, buffer_too_small) {
        char buf[16];
        char want[16];

        /* "SIGUSR1" needs 8 bytes with its NUL. */
        cr_assert(zero(ptr, (void *) mc_signal_name(SIGUSR1, buf, 7)));
        cr_assert(eq(str, (char *) mc_signal_name(SIGUSR1, buf, 8), "SIGUSR1"));
        cr_assert(zero(ptr, (void *) mc_signal_name(SIGUSR1, buf, 0)));
        cr_assert(zero(ptr, (void *) mc_signal_name(SIGHUP, buf, 3)));

        cr_assert(zero(ptr, (void *) mc_signal_name(SIGRTMIN, buf, 8)));
        cr_assert(eq(str, (char *) mc_signal_name(SIGRTMIN, buf, 9), "SIGRTMIN"));
        cr_assert(zero(ptr, (void *) mc_signal_name(SIGRTMAX, buf, 8)));
        cr_assert(eq(str, (char *) mc_signal_name(SIGRTMAX, buf, 9), "SIGRTMAX"));

        cr_assert(ge(int, SIGRTMAX - SIGRTMIN, 10));
        snprintf(want, sizeof(want), "SIGRTMIN+%d", 10);
        cr_assert(zero(ptr, (void *) mc_signal_name(SIGRTMIN + 10, buf, strlen(want))));
        cr_assert(eq(str, (char *) mc_signal_name(SIGRTMIN + 10, buf, strlen(want) + 1), want));
        cr_assert(zero(ptr, (void *) mc_signal_name(SIGRTMIN + 1, buf, 10)));
        cr_assert(eq(str, (char *) mc_signal_name(SIGRTMIN + 1, buf, 11), "SIGRTMIN+1"));
}

/* mc_signal_name() is meant to be called from a handler; do exactly that. */
static char handler_name[16];
static volatile sig_atomic_t handler_ok;

static void name_handler(int signo) {
        handler_ok = mc_signal_name(signo, handler_name, sizeof(handler_name)) != NULL;
}

Test(signame, usable_in_a_signal_handler) {
        struct sigaction sa = {.sa_handler = name_handler};

        sigemptyset(&sa.sa_mask);
        cr_assert(eq(int, sigaction(SIGRTMIN + 2, &sa, NULL), 0));
        cr_assert(eq(int, raise(SIGRTMIN + 2), 0));
        cr_assert(eq(int, handler_ok, 1));
        cr_assert(eq(str, handler_name, "SIGRTMIN+2"));
}
