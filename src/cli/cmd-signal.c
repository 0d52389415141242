/* SPDX-License-Identifier: MIT */
/*
 * memcap signal send|wait|list: the core.signal capability from the shell.
 *
 * send and wait go through a context (mc_signal_send(), mc_signal_send_pidfd(),
 * mc_signal_wait()), so --policy decides on them and --audit records them like any program's
 * signal operations. list only describes this system's signals and needs no context.
 *
 * wait is made for scripts: nothing reaches standard output until a signal was taken, a timeout
 * has its own exit status (TimedOut, 19), and --ready-fd tells a waiting parent the moment the
 * signals are blocked, after which a signal sent cannot be lost or kill us with its default
 * action.
 *
 * Sections: argument parsing, send, wait, list, dispatch.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void help(void) {
        fputs("Usage: memcap signal send PID SIGNAL [--value N] [--pidfd]\n"
              "       memcap signal wait SIGNAL... [--timeout SECONDS] [--json] [--ready-fd N]\n"
              "       memcap signal list [--json] | list SIGNAL...\n"
              "\n"
              "Send, wait for and list signals through libmemcap, checked by the policy of\n"
              "--policy and recorded by --audit. SIGNAL is a name (\"TERM\", \"SIGUSR1\",\n"
              "\"rtmin+2\", \"RTMAX-1\", any case) or a number (\"15\").\n"
              "\n"
              "Commands:\n"
              "  send   send SIGNAL to PID: kill(2), or sigqueue(3) with --value. PID > 0 is a\n"
              "         process, 0 memcap's own process group, -1 every process memcap may\n"
              "         signal, < -1 the process group -PID (as kill(1)). SIGNAL 0 sends\n"
              "         nothing: it checks that PID exists and may be signalled (kill -0).\n"
              "         The default policy allows only memcap itself and its children as\n"
              "         targets; widen it with --policy (allowed_signal_targets)\n"
              "  wait   block the SIGNALs and wait until one arrives, then print who sent it,\n"
              "         when, its code and its payload\n"
              "  list   list every signal of this system: number, name, default action and\n"
              "         what it means, then the realtime range SIGRTMIN..SIGRTMAX. With\n"
              "         SIGNALs, translate each as kill -l does: 15 prints TERM, TERM prints\n"
              "         15 (and 143, a shell's status for a death by 15, prints TERM)\n"
              "\n"
              "Options:\n"
              "      --value N          send with sigqueue(3) and this value: a 32-bit signed\n"
              "                         integer for standard signals, a 64-bit unsigned one\n"
              "                         (decimal or 0x hex) for realtime signals (send)\n"
              "      --pidfd            send through a pidfd of PID, immune to pid reuse\n"
              "                         (send; PID > 0)\n"
              "      --timeout SECONDS  give up after SECONDS (fractions allowed: 0.5); default:\n"
              "                         wait forever (wait)\n"
              "      --ready-fd N       write one byte to descriptor N once the signals are\n"
              "                         blocked, then close it (wait)\n"
              "      --json             print JSON (wait, list)\n"
              "  -h, --help             show this help\n"
              "\n"
              "Exit status: 11 when the kernel refuses (another user's process), 12 for a\n"
              "malformed PID, 16 when the process does not exist, 18 when the policy denies\n"
              "it, 19 when wait times out, 20 for an unknown signal or one that cannot be\n"
              "waited for; see 'memcap --help'.\n",
              stdout);
}

/* ---- argument parsing ----------------------------------------------------------------------- */

/*
 * An unsigned number, decimal or "0x" hexadecimal, the whole string: no sign, no spaces.
 * Returns 0, -EINVAL (malformed) or -ERANGE (larger than @max).
 */
static int parse_u64(const char *text, uint64_t max, uint64_t *ret) {
        unsigned base = 10;
        uint64_t v = 0;
        const char *p = text;

        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                base = 16;
                p += 2;
        }
        if (*p == 0)
                return -EINVAL;
        for (; *p; p++) {
                unsigned d;

                if (*p >= '0' && *p <= '9')
                        d = (unsigned) (*p - '0');
                else if (base == 16 && *p >= 'a' && *p <= 'f')
                        d = (unsigned) (*p - 'a' + 10);
                else if (base == 16 && *p >= 'A' && *p <= 'F')
                        d = (unsigned) (*p - 'A' + 10);
                else
                        return -EINVAL;
                if (MC_MUL_OVERFLOW(v, (uint64_t) base, &v) || MC_ADD_OVERFLOW(v, (uint64_t) d, &v))
                        return -ERANGE;
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* A pid as kill(1) takes it: -2147483647..2147483647, decimal. 0 or -EINVAL. */
static int parse_target(const char *text, pid_t *ret) {
        bool neg = text[0] == '-';
        uint64_t v;
        int r;

        r = args_parse_uint(text + neg, INT32_MAX, &v);
        if (r < 0)
                return -EINVAL;
        *ret = neg ? -(pid_t) v : (pid_t) v;
        return 0;
}

/*
 * The payload of --value for @signo. Standard signals carry sigqueue's int (UserData),
 * realtime ones its pointer-sized value (RealTime). Values that do not fit are refused, never
 * wrapped: a script that sends 4294967296 must not have 0 arrive.
 */
static int parse_payload(const char *text, int signo, mc_signal_payload *ret) {
        bool realtime = signo >= mc_signal_rt_min();
        bool neg = text[0] == '-';
        uint64_t v;
        int r;

        if (realtime) {
                if (neg)
                        return -ERANGE;
                r = parse_u64(text, UINT64_MAX, &v);
                if (r < 0)
                        return r;
                *ret = (mc_signal_payload){.kind = MC_PAYLOAD_REAL_TIME, .real_time = v};
                return 0;
        }
        r = parse_u64(text + neg, neg ? (uint64_t) INT32_MAX + 1 : (uint64_t) INT32_MAX, &v);
        if (r < 0)
                return r;
        *ret = (mc_signal_payload){.kind = MC_PAYLOAD_USER_DATA,
                                   .user_data = neg ? (int32_t) (-(int64_t) v) : (int32_t) v};
        return 0;
}

/*
 * Seconds with an optional fraction ("2", "0.5", "1.25") as nanoseconds. More digits than a
 * nanosecond resolves are refused rather than rounded away. 0, -EINVAL or -ERANGE.
 */
static int parse_timeout(const char *text, int64_t *ret) {
        const char *p = text;
        int64_t sec = 0, frac = 0;
        int digits = 0;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++)
                if (MC_MUL_OVERFLOW(sec, (int64_t) 10, &sec) ||
                    MC_ADD_OVERFLOW(sec, (int64_t) (*p - '0'), &sec))
                        return -ERANGE;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++, digits++) {
                        if (digits == 9)
                                return -EINVAL;
                        frac = frac * 10 + (*p - '0');
                }
                for (; digits < 9; digits++)
                        frac *= 10;
        }
        if (*p != 0)
                return -EINVAL;
        if (MC_MUL_OVERFLOW(sec, (int64_t) 1000000000, &sec) || MC_ADD_OVERFLOW(sec, frac, &sec))
                return -ERANGE;
        *ret = sec;
        return 0;
}

/* The canonical name of @signo, or its number for the few (glibc's reserved 32, 33) with none. */
static const char *signal_label(int signo, char buf[static 16]) {
        if (!mc_signal_name(signo, buf, 16))
                snprintf(buf, 16, "%d", signo);
        return buf;
}

/* ---- send ----------------------------------------------------------------------------------- */

/* A pidfd for @pid. By number: glibc wraps pidfd_open(2) only from 2.36 on. */
static int pidfd_open_target(pid_t pid, int *ret, mc_error *err) {
        long fd;

        fd = syscall(SYS_pidfd_open, pid, /* flags= */ 0);
        if (fd < 0) {
                if (errno == ESRCH)
                        return mc_error_set(err, MC_ERR_NOT_FOUND, ESRCH,
                                            "pidfd_open pid %d: no such process", (int) pid);
                return mc_error_errno(err, errno, "pidfd_open pid %d", (int) pid);
        }
        /* The kernel sets close-on-exec on every pidfd. */
        *ret = (int) fd;
        return 0;
}

/*
 * getopt would read "-1234" as a cluster of options. Send shows it the number without its
 * '-' and gives the sign back afterwards: @p is recognised by address, so whatever getopt
 * made of it - the PID, or the argument of --value - gets its sign back.
 */
static const char *unstrip(int argc, char **argv, const char *p) {
        for (int i = 1; i < argc; i++)
                if (p == argv[i] + 1 && args_is_negative_number(argv[i]))
                        return argv[i];
        return p;
}

static int signal_send(int argc, char **argv) {
        enum { ARG_VALUE = 0x100, ARG_PIDFD };
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"value", required_argument, NULL, ARG_VALUE},
                                                {"pidfd", no_argument, NULL, ARG_PIDFD},
                                                {}};
        _cleanup_(mc_ctx_freep) mc_ctx *ctx = NULL;
        _cleanup_free_ char **args = NULL;
        _cleanup_close_ int pidfd = -EBADF;
        mc_signal_payload payload = {.kind = MC_PAYLOAD_NONE};
        const char *value = NULL, *pid_text, *sig_text;
        mc_error err = MC_ERROR_INIT;
        bool use_pidfd = false;
        char name[16];
        pid_t pid;
        int c, signo, r;

        args = calloc((size_t) argc + 1, sizeof(char *));
        if (!args)
                return cli_oom_exit();
        for (int i = 0; i < argc; i++)
                args[i] = i > 0 && args_is_negative_number(argv[i]) ? argv[i] + 1 : argv[i];

        cli_getopt_reset();
        while ((c = getopt_long(argc, args, ":h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_VALUE:
                        value = unstrip(argc, argv, optarg);
                        break;
                case ARG_PIDFD:
                        use_pidfd = true;
                        break;
                default:
                        return cli_other_option("signal send", c, args, help);
                }
        }
        if (argc - optind < 2)
                return cli_usage_error("signal send", argc - optind == 0 ? "missing PID and SIGNAL"
                                                                         : "missing SIGNAL");
        if (argc - optind > 2)
                return cli_usage_error("signal send", "too many arguments");
        pid_text = unstrip(argc, argv, args[optind]);
        sig_text = unstrip(argc, argv, args[optind + 1]);

        if (parse_target(pid_text, &pid) < 0)
                return cli_invalid_pid(pid_text, "a number from -2147483647 to 2147483647");
        /* Signal 0 sends nothing: kill -0's check that PID exists and may be signalled. */
        if (streq(sig_text, "0"))
                signo = 0;
        else {
                r = mc_signal_from_name(sig_text, &signo, &err);
                if (r < 0)
                        return error_report(&err);
        }
        signal_label(signo, name);

        if (value) {
                r = parse_payload(value, signo, &payload);
                if (r < 0) {
                        _cleanup_free_ char *safe = str_escape_cstr(value);
                        bool realtime = signo >= mc_signal_rt_min();

                        return cli_usage_error(
                                "signal send", "%s --value '%s': %s carries %s",
                                r == -ERANGE ? "out-of-range" : "invalid", safe ? safe : "?", name,
                                realtime ? "a 64-bit unsigned value (0..18446744073709551615, "
                                           "decimal or 0x hex)"
                                         : "a 32-bit signed value (-2147483648..2147483647; "
                                           "use a realtime signal for 64 bits)");
                }
                if (pid <= 0)
                        return cli_usage_error("signal send",
                                               "--value needs one process (PID > 0): sigqueue(3) "
                                               "cannot send to a process group");
        }
        if (use_pidfd && pid <= 0)
                return cli_usage_error("signal send",
                                       "--pidfd needs one process (PID > 0), not a process group");

        r = cli_ctx_new(&ctx, &err);
        if (r < 0)
                return error_report(&err);
        if (use_pidfd) {
                r = pidfd_open_target(pid, &pidfd, &err);
                if (r < 0)
                        return error_report(&err);
                r = mc_signal_send_pidfd(ctx, pidfd, signo, value ? &payload : NULL, &err);
        } else
                r = mc_signal_send(ctx, pid, signo, value ? &payload : NULL, &err);
        if (r < 0) {
                /*
                 * The policy judges a target by its relation to us, read from /proc; a process
                 * that does not exist has none, so the library denies it before kill(2) could
                 * say ESRCH. The caller wants to hear that the process is gone: ask the kernel
                 * (signal 0 sends nothing) and report NotFound when it agrees. The denial is
                 * still in the audit log.
                 */
                if (err.kind == MC_ERR_POLICY_VIOLATION && pid > 0 && kill(pid, 0) < 0 &&
                    errno == ESRCH)
                        mc_error_set(&err, MC_ERR_NOT_FOUND, ESRCH,
                                     "signal_send %s to pid %d: no such process", name, (int) pid);
                return error_report(&err);
        }
        return 0;
}

/* ---- wait ----------------------------------------------------------------------------------- */

/* si_code as its <signal.h> name, or NULL when it has none we know. */
static const char *code_name(int signo, int code) {
        switch (code) {
        case SI_USER:
                return "SI_USER";
        case SI_KERNEL:
                return "SI_KERNEL";
        case SI_QUEUE:
                return "SI_QUEUE";
        case SI_TIMER:
                return "SI_TIMER";
        case SI_MESGQ:
                return "SI_MESGQ";
        case SI_ASYNCIO:
                return "SI_ASYNCIO";
        case SI_SIGIO:
                return "SI_SIGIO";
        case SI_TKILL:
                return "SI_TKILL";
        }
        /* Positive codes mean something different for each signal. */
        if (signo == SIGCHLD)
                switch (code) {
                case CLD_EXITED:
                        return "CLD_EXITED";
                case CLD_KILLED:
                        return "CLD_KILLED";
                case CLD_DUMPED:
                        return "CLD_DUMPED";
                case CLD_TRAPPED:
                        return "CLD_TRAPPED";
                case CLD_STOPPED:
                        return "CLD_STOPPED";
                case CLD_CONTINUED:
                        return "CLD_CONTINUED";
                }
        return NULL;
}

/* RFC 3339 in UTC with nanoseconds: "2026-05-01T12:34:56.123456789Z". */
static int format_time(int64_t ns, char *buf, size_t size) {
        time_t sec = (time_t) (ns / 1000000000);
        long frac = (long) (ns % 1000000000);
        struct tm tm;
        size_t n;

        if (frac < 0) {
                frac += 1000000000;
                sec--;
        }
        if (!gmtime_r(&sec, &tm))
                return -EOVERFLOW;
        n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
        if (n == 0 || (size_t) snprintf(buf + n, size - n, ".%09ldZ", frac) >= size - n)
                return -ENOBUFS;
        return 0;
}

static int wait_print_json(const mc_signal_info *info, const char *name, const char *when) {
        _cleanup_json_ json_t *o = json_object();
        const char *cname = code_name(info->signal, info->code);
        json_t *payload;
        int r = 0;

        if (!o)
                return -ENOMEM;
        if (info->payload.kind == MC_PAYLOAD_NONE)
                payload = json_null();
        else {
                bool rt = info->payload.kind == MC_PAYLOAD_REAL_TIME;

                payload = json_object();
                if (!payload)
                        return -ENOMEM;
                r |= json_add(payload, "kind", json_string(rt ? "RealTime" : "UserData"));
                r |= json_add(payload, "value",
                              rt ? json_u64(info->payload.real_time)
                                 : json_integer(info->payload.user_data));
        }
        r |= json_add(o, "signal", json_string(name));
        r |= json_add(o, "signo", json_integer(info->signal));
        r |= json_add(o, "source_pid", json_integer(info->source_pid));
        r |= json_add(o, "source_uid", json_integer(info->source_uid));
        r |= json_add(o, "source_verified", json_boolean(info->source_verified));
        r |= json_add(o, "time", json_string(when));
        r |= json_add(o, "code", json_integer(info->code));
        r |= json_add(o, "code_name", cname ? json_string(cname) : json_null());
        r |= json_add(o, "payload", payload);
        r |= json_add(o, "status", json_integer(info->status));
        if (r != 0)
                return -ENOMEM;
        return json_print(o, stdout);
}

static int wait_print_text(const mc_signal_info *info, const char *name, const char *when) {
        const char *cname = code_name(info->signal, info->code);

        /* A sender that wrote its own pid and uid (sigqueue) is only a claim: say so. */
        if (info->source_pid > 0 ? printf("%s from pid %d (uid %u%s) at %s", name,
                                          (int) info->source_pid, (unsigned) info->source_uid,
                                          info->source_verified ? "" : ", claimed", when) < 0
                                 : printf("%s from the kernel at %s", name, when) < 0)
                return -EIO;
        if (info->payload.kind == MC_PAYLOAD_USER_DATA &&
            printf(" payload UserData %" PRId32, info->payload.user_data) < 0)
                return -EIO;
        if (info->payload.kind == MC_PAYLOAD_REAL_TIME &&
            printf(" payload RealTime %" PRIu64, info->payload.real_time) < 0)
                return -EIO;
        if ((cname ? printf(" code %s", cname) : printf(" code %d", info->code)) < 0)
                return -EIO;
        if (info->signal == SIGCHLD && printf(" status %d", info->status) < 0)
                return -EIO;
        if (putchar('\n') == EOF)
                return -EIO;
        return 0;
}

/* Tell whoever holds the other end of @fd that the signals are blocked, and let go of it. */
static int ready_notify(int fd, mc_error *err) {
        ssize_t n;

        do
                n = write(fd, "R", 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) {
                int e = n < 0 ? errno : EIO;

                (void) close(fd);
                return mc_error_errno(err, e, "write to --ready-fd %d", fd);
        }
        if (close(fd) < 0 && errno != EINTR)
                return mc_error_errno(err, errno, "close --ready-fd %d", fd);
        return 0;
}

static int signal_wait(int argc, char **argv) {
        enum { ARG_TIMEOUT = 0x100, ARG_JSON, ARG_READY_FD };
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                                                {"json", no_argument, NULL, ARG_JSON},
                                                {"ready-fd", required_argument, NULL, ARG_READY_FD},
                                                {}};
        _cleanup_(mc_ctx_freep) mc_ctx *ctx = NULL;
        mc_sigset set = MC_SIGSET_EMPTY, previous;
        int64_t timeout = MC_WAIT_FOREVER;
        mc_error err = MC_ERROR_INIT;
        char name[16], when[64];
        mc_signal_info info;
        bool json = false;
        int ready_fd = -1;
        uint64_t v;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_TIMEOUT:
                        r = parse_timeout(optarg, &timeout);
                        if (r < 0)
                                return cli_value_error("signal wait", r, "--timeout", optarg,
                                                       "seconds such as 2 or 0.5 (at most 9 "
                                                       "decimals)");
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case ARG_READY_FD:
                        r = args_parse_uint(optarg, INT_MAX, &v);
                        /* 0..2 are the conversation with the caller; stdout is for the result. */
                        if (r < 0 || v <= 2 || fcntl((int) v, F_GETFD) < 0)
                                return cli_invalid_value("signal wait", "--ready-fd", optarg,
                                                         "an open descriptor above 2");
                        ready_fd = (int) v;
                        break;
                default:
                        return cli_other_option("signal wait", c, argv, help);
                }
        }
        if (optind >= argc)
                return cli_usage_error("signal wait", "missing SIGNAL");
        for (int i = optind; i < argc; i++) {
                int signo;

                r = mc_signal_from_name(argv[i], &signo, &err);
                if (r < 0)
                        return error_report(&err);
                mc_sigset_add(&set, signo);
        }

        r = cli_ctx_new(&ctx, &err);
        if (r < 0)
                return error_report(&err);
        if (ready_fd >= 0) {
                /*
                 * mc_signal_wait() blocks the set itself, but only once it runs; the caller
                 * may send as soon as it reads the byte, so block first. The previous mask is
                 * never restored: a second signal of the set arriving after the first must not
                 * kill us with its default action once the result is printed.
                 */
                r = mc_signal_mask(ctx, &set, &previous, &err);
                if (r < 0)
                        return error_report(&err);
                r = ready_notify(ready_fd, &err);
                if (r < 0)
                        return error_report(&err);
        }
        r = mc_signal_wait(ctx, &set, timeout, &info, &err);
        if (r < 0)
                return error_report(&err);

        signal_label(info.signal, name);
        r = format_time(info.timestamp, when, sizeof(when));
        if (r >= 0)
                r = json ? wait_print_json(&info, name, when) : wait_print_text(&info, name, when);
        return cli_print_status(r, "print the signal");
}

/* ---- list ----------------------------------------------------------------------------------- */

static const char *default_name(int action) {
        switch (action) {
        case MC_DEFAULT_TERMINATE:
                return "Terminate";
        case MC_DEFAULT_CORE:
                return "Core";
        case MC_DEFAULT_IGNORE:
                return "Ignore";
        case MC_DEFAULT_STOP:
                return "Stop";
        case MC_DEFAULT_CONTINUE:
                return "Continue";
        default:
                return NULL;
        }
}

/* What the standard signals mean (signal(7)); NULL for the others. */
static const char *describe(int signo) {
        static const struct {
                int signo;
                const char *text;
        } texts[] = {
                {SIGHUP, "hangup of the controlling terminal or death of its process"},
                {SIGINT, "interrupt from the keyboard (Ctrl-C)"},
                {SIGQUIT, "quit from the keyboard (Ctrl-\\)"},
                {SIGILL, "illegal instruction"},
                {SIGTRAP, "trace or breakpoint trap"},
                {SIGABRT, "abort(3)"},
                {SIGBUS, "bus error: access to a missing part of a mapped file"},
                {SIGFPE, "arithmetic error, e.g. division by zero"},
                {SIGKILL, "kill: cannot be caught, blocked or ignored"},
                {SIGUSR1, "user-defined signal 1"},
                {SIGSEGV, "invalid memory reference"},
                {SIGUSR2, "user-defined signal 2"},
                {SIGPIPE, "write to a pipe or socket with no reader"},
                {SIGALRM, "timer from alarm(2)"},
                {SIGTERM, "termination request"},
#ifdef SIGSTKFLT
                {SIGSTKFLT, "stack fault on the coprocessor (unused)"},
#endif
                {SIGCHLD, "a child stopped, continued or terminated"},
                {SIGCONT, "continue if stopped"},
                {SIGSTOP, "stop: cannot be caught, blocked or ignored"},
                {SIGTSTP, "stop typed at the terminal (Ctrl-Z)"},
                {SIGTTIN, "terminal input for a background process"},
                {SIGTTOU, "terminal output for a background process"},
                {SIGURG, "urgent data on a socket"},
                {SIGXCPU, "CPU time limit exceeded"},
                {SIGXFSZ, "file size limit exceeded"},
                {SIGVTALRM, "virtual timer expired"},
                {SIGPROF, "profiling timer expired"},
                {SIGWINCH, "terminal window size changed"},
                {SIGIO, "I/O is possible on a descriptor"},
                {SIGPWR, "power failure"},
                {SIGSYS, "bad system call"},
        };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                if (texts[i].signo == signo)
                        return texts[i].text;
        return NULL;
}

/* A signal number without a name: below SIGRTMIN, the C library keeps it for itself. */
#define RESERVED_TEXT "reserved by the C library (threads)"
#define REALTIME_TEXT "realtime signal"

static int list_json(int rtmin, int rtmax) {
        _cleanup_json_ json_t *doc = json_object();
        json_t *a, *rt;
        int r = 0;

        if (!doc)
                return -ENOMEM;
        /* json_add() takes the new value even when adding fails, so nothing leaks here. */
        a = json_array();
        rt = json_object();
        r |= json_add(doc, "signals", a);
        r |= json_add(doc, "realtime", rt);
        if (r != 0)
                return -ENOMEM;
        r |= json_add(rt, "min", json_integer(rtmin));
        r |= json_add(rt, "max", json_integer(rtmax));
        r |= json_add(rt, "count", json_integer(rtmax - rtmin + 1));
        for (int s = 1; s <= rtmax; s++) {
                const char *def = default_name(mc_signal_default_action(s)), *text = describe(s);
                json_t *o = json_object();
                char name[16];
                bool named = mc_signal_name(s, name, sizeof(name));

                if (!o || json_array_append_new(a, o) < 0)
                        return -ENOMEM;
                if (!text)
                        text = s >= rtmin ? REALTIME_TEXT : named ? NULL : RESERVED_TEXT;
                r |= json_add(o, "signo", json_integer(s));
                r |= json_add(o, "name", named ? json_string(name) : json_null());
                r |= json_add(o, "default_action", def ? json_string(def) : json_null());
                r |= json_add(o, "description", text ? json_string(text) : json_null());
                r |= json_add(o, "realtime", json_boolean(s >= rtmin));
                if (r != 0)
                        return -ENOMEM;
        }
        return json_print(doc, stdout);
}

static int list_table(int rtmin, int rtmax) {
        static const char *const headers[] = {"SIGNAL", "NAME", "DEFAULT", "DESCRIPTION"};
        _cleanup_(table_freep) table *t = table_new(ELEMENTSOF(headers), headers);
        char rtmin_name[16], rtmax_name[16];
        int r;

        if (!t)
                return -ENOMEM;
        table_set_right(t, 0);
        for (int s = 1; s <= rtmax; s++) {
                const char *text = describe(s);
                char num[16], name[16];
                bool named = mc_signal_name(s, name, sizeof(name));

                if (!text)
                        text = s >= rtmin ? REALTIME_TEXT : named ? NULL : RESERVED_TEXT;
                snprintf(num, sizeof(num), "%d", s);
                const char *cells[] = {num, named ? name : NULL,
                                       default_name(mc_signal_default_action(s)), text};
                r = table_add_row(t, cells);
                if (r < 0)
                        return r;
        }
        return table_print_summary(t, stdout, "Realtime signals: %s..%s = %d..%d (%d signals)",
                                   signal_label(rtmin, rtmin_name), signal_label(rtmax, rtmax_name),
                                   rtmin, rtmax, rtmax - rtmin + 1);
}

/*
 * One operand of `signal list SIGNAL...`, translated as kill -l does: a number (also an exit
 * status 128 + N of a process killed by N) prints the name without "SIG", a name prints the
 * number. 0, or the exit status of InvalidSignal after printing why.
 */
static int list_translate(const char *arg) {
        _cleanup_free_ char *safe = NULL;
        mc_error err = MC_ERROR_INIT;
        char name[16];
        uint64_t n;
        int signo;

        if (args_parse_uint(arg, INT32_MAX, &n) == 0) {
                /* The shell reports a death by signal N as status 128 + N. */
                if (n > 128 && n - 128 <= (uint64_t) mc_signal_rt_max())
                        n -= 128;
                if (n >= 1 && n <= (uint64_t) mc_signal_rt_max()) {
                        if (!mc_signal_name((int) n, name, sizeof(name)))
                                snprintf(name, sizeof(name), "SIG%d", (int) n);
                        puts(name + 3); /* "TERM", "RTMIN+3": kill -l's form */
                        return 0;
                }
                safe = str_escape_cstr(arg);
                mc_error_set(&err, MC_ERR_INVALID_SIGNAL, EINVAL,
                             "%s is not a signal number of this system (1..%d, or 128 + one "
                             "of them)",
                             safe ? safe : "?", mc_signal_rt_max());
                return error_report(&err);
        }
        if (mc_signal_from_name(arg, &signo, &err) < 0)
                return error_report(&err);
        printf("%d\n", signo);
        return 0;
}

static int signal_list(int argc, char **argv) {
        bool json = false;
        int c, r, status = 0;

        /* Operands are signals to translate, options anywhere among them. */
        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h",
                                (const struct option[]){{"help", no_argument, NULL, 'h'},
                                                        {"json", no_argument, NULL, 'j'},
                                                        {}},
                                NULL)) >= 0) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                default:
                        return cli_other_option("signal list", c, argv, help);
                }
        }
        if (optind < argc) {
                if (json)
                        return cli_usage_error("signal list",
                                               "--json lists every signal; it takes no SIGNAL");
                /* Every operand is answered, in order; the status is the last failure's. */
                for (int i = optind; i < argc; i++) {
                        r = list_translate(argv[i]);
                        if (r != 0)
                                status = r;
                }
                return status;
        }

        r = json ? list_json(mc_signal_rt_min(), mc_signal_rt_max())
                 : list_table(mc_signal_rt_min(), mc_signal_rt_max());
        return cli_print_status(r, "print the list");
}

/* ---- dispatch ------------------------------------------------------------------------------- */

int cmd_signal(int argc, char **argv) {
        static const cli_subcommand subs[] = {
                {"send", signal_send},
                {"wait", signal_wait},
                {"list", signal_list},
        };

        return cli_run_subcommand("signal", subs, ELEMENTSOF(subs), "send, wait or list", help,
                                  argc, argv);
}
