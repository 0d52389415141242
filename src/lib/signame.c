/* SPDX-License-Identifier: MIT */
/*
 * Signals by name and number, both ways: the standard Linux signals with or without "SIG" in
 * any case, the realtime range as "RTMIN+n" / "RTMAX-n" against this process's SIGRTMIN and
 * SIGRTMAX (glibc reserves the first few realtime signals, so the numbers are known only at run
 * time), and plain numbers. Policies, the CLI and audit records all name signals through here.
 *
 * mc_signal_name() is async-signal-safe: it only reads a static table and formats digits by
 * hand, so a handler may name the signal it received.
 */

#include <signal.h>
#include <stdio.h>

#include "internal.h"

static const struct {
        const char *name; /* without "SIG" */
        int signo;
} signals[] = {
#ifdef _WIN32
        /* The C runtime's signals: all Windows has. */
        {"INT", SIGINT},   {"ILL", SIGILL},     {"FPE", SIGFPE},   {"SEGV", SIGSEGV},
        {"TERM", SIGTERM}, {"BREAK", SIGBREAK}, {"ABRT", SIGABRT},
#else
        {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
        {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
        {"KILL", SIGKILL},     {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
        {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
#ifdef SIGSTKFLT
        {"STKFLT", SIGSTKFLT},
#endif
        {"CHLD", SIGCHLD},     {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
        {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
        {"IO", SIGIO}, /* canonical: first in the table */
        {"POLL", SIGPOLL},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
#endif
};

/* Longest name we bother to parse; anything longer is not a signal. */
#define NAME_MAX_LEN 32

static bool ascii_prefix_ci(const char *s, const char *prefix, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char a = s[i], b = prefix[i];
                if (a >= 'a' && a <= 'z')
                        a = (char) (a - 'a' + 'A');
                if (a != b)
                        return false;
        }
        return true;
}

static bool ascii_equal_ci(const char *s, const char *upper) {
        size_t n = strlen(upper);
        return strlen(s) == n && ascii_prefix_ci(s, upper, n);
}

/* Decimal digits only (no sign, no spaces), at most 9 of them so no overflow is possible. */
static bool parse_digits(const char *s, int *ret) {
        int v = 0;
        size_t n = 0;

        if (*s == 0)
                return false;
        for (; *s; s++, n++) {
                if (*s < '0' || *s > '9' || n >= 9)
                        return false;
                v = v * 10 + (*s - '0');
        }
        *ret = v;
        return true;
}

static int invalid(mc_error *err, const char *name, const char *why) {
        size_t n = strlen(name);
        char shown[NAME_MAX_LEN + 4];

        /* Quote at most NAME_MAX_LEN bytes, with control characters made visible. */
        for (size_t i = 0; i < n && i < NAME_MAX_LEN; i++) {
                unsigned char ch = (unsigned char) name[i];
                shown[i] = ch < 0x20 || ch == 0x7f ? '?' : (char) ch;
        }
        if (n > NAME_MAX_LEN) {
                memcpy(shown + NAME_MAX_LEN, "...", 4);
        } else {
                shown[n] = 0;
        }
        return mc__error_set(err, MC_ERR_INVALID_SIGNAL, EINVAL, "signal '%s': %s", shown, why);
}

int mc_signal_from_name(const char *name, int *ret_signo, mc_error *err) {
        int rtmin = SIGRTMIN, rtmax = SIGRTMAX, n, signo;
        const char *s;

        if (!name || !ret_signo)
                return mc__error_set(err, MC_ERR_INVALID_SIGNAL, EINVAL,
                                     "mc_signal_from_name: name or ret_signo is NULL");

        if (name[0] >= '0' && name[0] <= '9') {
                if (!parse_digits(name, &signo) || signo < 1 || signo > rtmax) {
                        char why[64];
                        snprintf(why, sizeof(why), "signal numbers are 1..%d", rtmax);
                        return invalid(err, name, why);
                }
                *ret_signo = signo;
                return 0;
        }

        s = name;
        if (strlen(s) > 3 && ascii_prefix_ci(s, "SIG", 3))
                s += 3;

        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                if (ascii_equal_ci(s, signals[i].name)) {
                        *ret_signo = signals[i].signo;
                        return 0;
                }

        if (strlen(s) >= 5 && ascii_prefix_ci(s, "RTMIN", 5)) {
                if (s[5] == 0)
                        signo = rtmin;
                else if (s[5] == '+' && parse_digits(s + 6, &n))
                        signo = n > rtmax - rtmin ? rtmax + 1 : rtmin + n;
                else
                        return invalid(err, name, "write realtime signals as RTMIN+n or RTMAX-n");
        } else if (strlen(s) >= 5 && ascii_prefix_ci(s, "RTMAX", 5)) {
                if (s[5] == 0)
                        signo = rtmax;
                else if (s[5] == '-' && parse_digits(s + 6, &n))
                        signo = n > rtmax - rtmin ? rtmin - 1 : rtmax - n;
                else
                        return invalid(err, name, "write realtime signals as RTMIN+n or RTMAX-n");
        } else {
                return invalid(err, name, "no such signal");
        }

        if (signo < rtmin || signo > rtmax) {
                char why[96];
                snprintf(why, sizeof(why),
                         "outside the realtime signals SIGRTMIN..SIGRTMAX (%d..%d, RTMIN+0..%d)",
                         rtmin, rtmax, rtmax - rtmin);
                return invalid(err, name, why);
        }
        *ret_signo = signo;
        return 0;
}

/* Append @s to @buf at *@n; false when it (and the NUL) would not fit. */
static bool append(char *buf, size_t size, size_t *n, const char *s) {
        size_t len = strlen(s);

        if (*n + len >= size)
                return false;
        memcpy(buf + *n, s, len + 1);
        *n += len;
        return true;
}

const char *mc_signal_name(int signo, char *buf, size_t size) {
        int rtmin = SIGRTMIN, rtmax = SIGRTMAX;
        size_t n = 0;

        if (!buf)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                if (signals[i].signo != signo)
                        continue;
                if (!append(buf, size, &n, "SIG") || !append(buf, size, &n, signals[i].name))
                        return NULL;
                return buf;
        }

        if (signo < rtmin || signo > rtmax)
                return NULL;
        if (signo == rtmax)
                return append(buf, size, &n, "SIGRTMAX") ? buf : NULL;
        if (!append(buf, size, &n, "SIGRTMIN"))
                return NULL;
        if (signo > rtmin) {
                char digits[12];
                size_t k = sizeof(digits) - 1;

                digits[k] = 0;
                for (int v = signo - rtmin; v > 0; v /= 10)
                        digits[--k] = (char) ('0' + v % 10);
                digits[--k] = '+';
                if (!append(buf, size, &n, digits + k))
                        return NULL;
        }
        return buf;
}
