/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A memcapd under test, for the suites that run the real daemon: the built binary (found
 * through $MEMCAP_BUILD_ROOT) on a socket and root directory of its own under /tmp, started
 * with a config and optionally an audit log, stopped with SIGTERM in the suite's .fini, which
 * checks that it exited 0 and removed its socket. Its clients talk to it with plain sockets,
 * one line each way (line.h); other client processes ("peers") are forked children that relay
 * requests from the test over a control socket, so a test can drive several processes step by
 * step, including processes that dropped to another uid. Peers never assert: they report, the
 * test asserts. Every wait has a deadline and fails the test with a message.
 *
 * One daemon per test process (D): Criterion runs each test in a process of its own.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mctest.h"
#include "core.h"
#include "line.h"

#ifndef NOBODY
#define NOBODY ((uid_t) 65534)
#endif
#define ALL_CAPS "[\"FileRead\",\"FileWrite\",\"SystemInfo\",\"FdPass\",\"MemLock\"]"
/* How long a reply may take before the test calls the daemon stuck. */
#define REPLY_TIMEOUT_MS 10000

/* ---- text and pattern helpers ------------------------------------------------------------- */

/* printf into one of a ring of 8 static buffers: request lines and expected replies. */
__attribute__((format(printf, 1, 2))) char *S(const char *fmt, ...);
/* The byte at offset @i of the test pattern files. */
uint8_t pat(uint64_t i);
/* "[b0,b1,...]" of @n bytes, into a heap string the caller frees. */
char *json_bytes(const uint8_t *b, size_t n);
/* Standard base64 with padding, into a heap string the caller frees. */
char *base64(const uint8_t *b, size_t n);
bool contains(const char *s, const char *part);
bool starts_with(const char *s, const char *prefix);
/* The whole file, or "" when it cannot be opened; the caller frees it. */
char *slurp(const char *path);

/* ---- the daemon under test ---------------------------------------------------------------- */

typedef struct daemon_state {
        pid_t pid; /* 0 when not running */
        char dir[64];
        char sock[128], root[128], log[128], audit[128], config[128], policy[128];
} daemon_state;

extern daemon_state D;
/* Run in the daemon's process just before exec (rlimits, uid), when set; reset by .fini. */
extern void (*daemon_pre_exec)(void);
/* memcapd -p this file, when set; reset by .fini. */
extern char *daemon_policy;

const char *memcapd_binary(void);
/* D.root + @rel, in an S() buffer. */
char *root_path(const char *rel);
void root_write_file(const char *rel, const void *data, size_t n);
/* A root file of @n pattern bytes. */
void pattern_file(const char *rel, size_t n);
/* Read @n bytes at @off of a root file with pread(2). */
void root_read_file(const char *rel, off_t off, void *buf, size_t n);
/* D.config := @json. */
void write_config(const char *json);
/*
 * A fresh D.dir with root/data/small (16 bytes) and root/data/big (3 pages of pattern); the
 * paths of D's log, audit log, config and policy file beneath it (none of them made yet).
 */
void setup_dir(void);
/*
 * Fork and exec memcapd with @argv (argv[0] is replaced); stdout and stderr to @out_path. The
 * daemon dies with the test process (PR_SET_PDEATHSIG), so a test that crashes past its .fini
 * leaves no daemon behind.
 */
pid_t spawn_memcapd(char **argv, const char *out_path, void (*pre_exec)(void));
/*
 * Run memcapd with @argv (argv[0] is replaced) to its end (30 s at most), its output to
 * D.dir/run.out; returns its exit status, the output in *@out (the caller frees it). It must
 * exit, not die of a signal.
 */
int run_memcapd(char **argv, char **out);
/*
 * spawn_memcapd(), then wait up to @ms until @sock accepts; the test fails (with the log
 * @out_path) when memcapd exits first or does not accept in time. Returns its pid.
 */
pid_t memcapd_start(char **argv, const char *sock, const char *out_path, void (*pre_exec)(void),
                    int ms);
/* Print the log @path to stderr, for a failure message. */
void memcapd_dump_log(const char *path);
void daemon_dump_log(void);
/*
 * Start memcapd with @config (JSON text, or NULL for none) and the audit log when @audit, and
 * wait (20 s at most) until its socket accepts.
 */
void daemon_start(const char *config, bool audit);
/*
 * Start memcapd with "-s D.sock -r D.root", then @extra (NULL-terminated; NULL for none), with
 * @env ("NAME=value", NULL-terminated; NULL for none) added to its environment, and wait (20 s
 * at most) until its socket accepts. daemon_start() is this with its options.
 */
void daemon_start_args(const char *const *extra, const char *const *env);
/*
 * Write @policy (JSON text; NULL for "{}") to D.policy and start memcapd with a config that
 * names it and the audit log D.audit, plus @config_fields (JSON members, e.g.
 * "\"capabilities\": {...}"; NULL for none).
 */
void daemon_start_with_policy(const char *config_fields, const char *policy);
/* SIGTERM, then expect exit status 0 within 30 s and the socket gone. */
void daemon_stop(void);
/*
 * SIGTERM @pid, SIGKILL when it has not ended within @ms; its wait status, or -1 when it had to
 * be killed. Never asserts.
 */
int memcapd_terminate(pid_t pid, int ms);
/* .init: setup_dir() and daemon_start(NULL, false). */
void daemon_suite_init(void);
/* .init: setup_dir(), root/data/f ("hello, world\n") and daemon_start(NULL, false). */
void daemon_start_with_data(void);
/*
 * Stop the daemon if it runs, without asserting how it ended, remove D.dir and reset
 * daemon_pre_exec and daemon_policy: the .fini of suites that assert a clean stop only where a
 * test asks for it (daemon_stop()).
 */
void daemon_cleanup(void);
/* .fini: stop the daemon (asserting a clean exit), remove the directory, check for leaks. */
void daemon_suite_fini(void);

/* The daemon's mappings of files in its root and of memfds: what it maps for clients. */
int daemon_maps(void);
/* The daemon's open descriptors. */
int daemon_fds(void);
/* Poll @what until it returns @want (up to @ms); returns the last value. */
int poll_until(int (*what)(void), int want, int ms);
/* A field of the daemon's /proc/PID/status in KiB: "VmRSS:", "VmHWM:", "RssAnon:". */
uint64_t daemon_status_kib(const char *field);
uint64_t daemon_rss_kib(void);

/* ---- the test's own connections (asserting) ----------------------------------------------- */

void connect_to(cl *c);
void send_line(cl *c, const char *req);
/* The next reply line (REPLY_TIMEOUT_MS at most). */
const char *recv_line(cl *c);
const char *call(cl *c, const char *req);
/* The reply must be @want, byte for byte. */
void expect(cl *c, const char *req, const char *want);
/* The reply must start with @prefix; returns it. */
const char *expect_prefix(cl *c, const char *req, const char *prefix);
/* Mmap and return the new id, which the reply must carry both ways. */
uint64_t mmap_ok(cl *c, const char *req);
const char *hello_reply(const char *caps, pid_t pid, uid_t uid);

#define OK          "{\"status\":\"success\"}"
#define SYNCED      "{\"status\":\"success\",\"written\":true}"
#define NOT_WRITTEN "{\"status\":\"success\",\"written\":false}"
/* The reply to @call naming an id @id the caller does not own, in an S() buffer. */
const char *not_found(const char *call, uint64_t id);
#define NOT_FOUND(call, id) not_found((call), (id))
#define INVALID                                                                                    \
        "{\"status\":\"error\",\"kind\":\"InvalidArgument\",\"code\":\"core.memory."               \
        "InvalidArgument\",\"message\":\""
#define DENIED                                                                                     \
        "{\"status\":\"permission_denied\",\"kind\":\"PermissionDenied\",\"code\":"                \
        "\"core.memory.PermissionDenied\",\"reason\":\""

/* ---- peers: other client processes, driven over a control socket -------------------------
 *
 * Commands, one line each; the peer answers one line whose first byte says what happened:
 *   <request>   relayed on the current connection: 'F' + reply when a descriptor came with it
 *               (closed at once), '-' + reply otherwise, 'C' when the daemon closed the stream
 *   !connect    open another connection and make it current          -> "-ok"
 *   !close      close the current connection (the previous one is current again) -> "-ok"
 *   !pid        -> "-<pid>"
 *   !eof        does the daemon close the current connection within 2 s?  -> "-eof" / "-open"
 *   !forkexit   fork; the child carries on as the peer (connections inherited) and answers
 *               "-<its pid>" once the parent has exited
 *   !exit       _exit(0)
 */

typedef struct peer {
        pid_t pid;   /* the process serving the commands now */
        pid_t child; /* our direct child, to reap; 0 once reaped */
        cl ctl;
        bool got_fd;
} peer;

/*
 * The peer's side, in a forked child: serve the commands from @ctl_fd as @uid (0: ours); never
 * returns.
 */
void peer_main(int ctl_fd, uid_t uid);
/* A peer connected to D.sock, as @uid (0: ours); it has said "ready" when this returns. */
void peer_spawn(peer *p, uid_t uid);
/* Send one command; returns the answer without its kind byte, which must be @want_kind. */
const char *peer_cmd(peer *p, const char *cmd, char want_kind);
const char *peer_call(peer *p, const char *req);
void peer_expect(peer *p, const char *req, const char *want);
/* A successful Mmap through the peer; its id. */
uint64_t peer_mmap(peer *p, const char *req);
/* Tell the peer to exit and reap it (it must exit 0). */
void peer_exit(peer *p);

/* ---- the audit log (D.audit) ---------------------------------------------------------------- */

/*
 * For daemon_pre_exec: the sanitizer keeps freed memory in a quarantine on purpose, which is not
 * memory the daemon holds; the daemons of the memory tests run without it.
 */
void daemon_without_quarantine(void);
/* The audit log's records as a JSON array (the caller decrefs); each record gets "_bytes", the
 * length of its line. */
json_t *audit_load(void);
/* Whether @rec is memcapd's record of @event. */
bool rec_is(json_t *rec, const char *event);
/* A string or integer (asserted) field of the record's "event" object. */
const char *ev_str(json_t *rec, const char *key);
json_int_t ev_int(json_t *rec, const char *key);

/*
 * Assert that the @n bytes at @off of the file @rel under the daemon's root are @want; @why, when
 * not NULL, says on failure what a difference means. @n is at most 64.
 */
void expect_root_file(const char *rel, off_t off, const void *want, size_t n, const char *why);
