/* SPDX-License-Identifier: MIT */
/*
 * memcapd: the mapping broker. Serves the mapping manager of libmemcap to client processes over
 * a Unix socket (docs/protocol.md). With no arguments it runs with embedded defaults and says
 * where it listens and what it serves.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h" /* the build's: HAVE_LIBSYSTEMD */
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "args.h"
#include "check-config.h"
#include "error-util.h"
#include "log.h"
#include "macro.h"
#include "server.h"

/* Every connection costs a socket and, for each new client process, a pidfd; every mapping an
 * open file. The soft limit (often 1024) is for select(), which memcapd never uses: take what the
 * hard limit allows. */
static void raise_fd_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        log_debug("raising the descriptor limit: %s", strerror(errno));
        }
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: memcapd [options]\n"
                "\n"
                "Serve memory mappings of the files under a root directory to client processes\n"
                "over a Unix socket, each mapping owned by the process that made it.\n"
                "\n"
                "Options:\n"
                "  -s, --socket PATH      listen here (default: "
                "$XDG_RUNTIME_DIR/memcap/memcapd.sock\n"
                "                         for users, /run/memcap/memcapd.sock for root)\n"
                "  -r, --root DIR         serve the files beneath DIR (default: "
                "$XDG_RUNTIME_DIR/memcap/root\n"
                "                         for users, /var/lib/memcap/root for root)\n"
                "  -c, --config FILE      daemon configuration (JSON; re-read on SIGHUP)\n"
                "  -p, --policy FILE      memory policy of the daemon (JSON; re-read on SIGHUP)\n"
                "  -a, --audit FILE       append one audit record per request and operation\n"
                "                         (reopened on SIGHUP)\n"
                "      --audit-journal    send the audit records to the journal too\n"
                "  -L, --log FILE         append messages to FILE instead of standard error\n"
                "                         (reopened on SIGHUP)\n"
                "  -t, --check-config FILE\n"
                "                         check FILE and the policy it names, then exit: 0 when\n"
                "                         memcapd would start with them\n"
                "  -f, --foreground       stay in the foreground (always; for init systems)\n"
                "  -l, --log-level LEVEL  error, warning, info (default) or debug\n"
                "  -h, --help             show this help\n"
                "  -V, --version          show the version\n"
                "\n"
                "Signals: SIGTERM/SIGINT stop gracefully (sync, unmap, remove the socket);\n"
                "SIGHUP reloads the configuration and the policy and reopens the log files.\n");
}

int main(int argc, char **argv) {
        enum { ARG_AUDIT_JOURNAL = 0x100 };
        static const struct option opts[] = {
                {"socket", required_argument, NULL, 's'},
                {"root", required_argument, NULL, 'r'},
                {"config", required_argument, NULL, 'c'},
                {"policy", required_argument, NULL, 'p'},
                {"audit", required_argument, NULL, 'a'},
                {"audit-journal", no_argument, NULL, ARG_AUDIT_JOURNAL},
                {"log", required_argument, NULL, 'L'},
                {"check-config", required_argument, NULL, 't'},
                {"foreground", no_argument, NULL, 'f'},
                {"log-level", required_argument, NULL, 'l'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {0},
        };
        const char *socket = NULL, *root = NULL, *config = NULL, *policy = NULL, *audit = NULL;
        const char *log = NULL, *check = NULL;
        bool audit_journal = false;
        mc_error err = MC_ERROR_INIT;
        mcd_server *s = NULL;
        mcd_config cfg;
        int c, r, listen_fd = -1;

        log_set_program_name("memcapd");
        while ((c = getopt_long(argc, argv, "s:r:c:p:a:L:t:fl:hV", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        socket = optarg;
                        break;
                case 'r':
                        root = optarg;
                        break;
                case 'c':
                        config = optarg;
                        break;
                case 'p':
                        policy = optarg;
                        break;
                case 'a':
                        audit = optarg;
                        break;
                case ARG_AUDIT_JOURNAL:
                        audit_journal = true;
                        break;
                case 'L':
                        log = optarg;
                        break;
                case 't':
                        check = optarg;
                        break;
                case 'f':
                        break;
                case 'l': {
                        log_level level;
                        if (log_level_from_name(optarg, &level) < 0) {
                                log_error("unknown log level '%s' (error, warning, info, debug)",
                                          optarg);
                                return 2;
                        }
                        log_set_level(level);
                        break;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("memcapd %s\n", mc_version());
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                log_error("unexpected argument '%s'; see --help", argv[optind]);
                return 2;
        }

        if (check)
                return mcd_check_config(check, policy);

        r = mcd_config_defaults(&cfg, &err);
        if (r >= 0 && config)
                r = mcd_config_load(config, &cfg, &err);
        if (r >= 0 && socket)
                r = mcd_config_set(&cfg.socket_path, socket);
        if (r >= 0 && root)
                r = mcd_config_set(&cfg.root, root);
        if (r >= 0 && policy) {
                r = mcd_config_set(&cfg.policy_path, policy);
                cfg.policy_pinned = true;
        }
        if (r >= 0 && audit)
                r = mcd_config_set(&cfg.audit_path, audit);
        if (r >= 0 && log)
                r = mcd_config_set(&cfg.log_path, log);
        if (audit_journal)
                cfg.audit_journal = true;
        if (r < 0) {
                if (err.kind == MC_OK)
                        mc_error_errno(&err, r, "configuration");
                mcd_config_done(&cfg);
                return error_report(&err);
        }
        if (cfg.log_path) {
                r = log_open_file(cfg.log_path);
                if (r < 0) {
                        mc_error_errno(&err, -r, "open log '%s'", cfg.log_path);
                        mcd_config_done(&cfg);
                        return error_report(&err);
                }
        }
        raise_fd_limit();
#if HAVE_LIBSYSTEMD
        if (sd_listen_fds(1) == 1)
                listen_fd = SD_LISTEN_FDS_START;
#endif
        r = mcd_server_new(&cfg, config, listen_fd, &s, &err);
        mcd_config_done(&cfg);
        if (r < 0)
                return error_report(&err);
        r = mcd_server_run(s);
        mcd_server_free(s);
        if (r == 0)
                log_info("stopped");
        return r;
}
