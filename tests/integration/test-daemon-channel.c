/* SPDX-License-Identifier: MIT */
/*
 * memcapd's channels: the ChannelCreate and ChannelOpen codec, and the daemon brokering one
 * channel between processes of different uids (fork + setresuid, so the daemon tests run as
 * root), with the capability, the name policy, the quotas, hostile requests and the creator's
 * exit. The daemon is started with a minimal helper of its own (the integration tests' support
 * library replaces it at merge); requests go through the public client (mcc-shim.h),
 * which receives the descriptor that comes with a reply.
 */

#include "mctest.h"

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcc-shim.h"
#include "memcapd.h"
#include "protocol.h"

#define NOBODY     ((uid_t) 65534)
#define OTHER_UID  ((uid_t) 65533)
#define WAIT_MS    10000
#define WAIT_NS    ((int64_t) WAIT_MS * 1000000)
#define CHILD_FAIL 3

/* ---- the codec ------------------------------------------------------------------------------ */

static int parse(const char *line, mcd_request *q, mc_error *e) {
        return mcd_request_parse(line, strlen(line), q, e);
}

/* The codec's tests check for leaks at their end, as the daemon's do. */
TestSuite(channel_codec, .fini = mc_test_fini);

Test(channel_codec, create_and_open_decode) {
        mcd_request q = MCD_REQUEST_INIT;
        mc_error e = MC_ERROR_INIT;

        cr_assert(eq(int,
                     parse("{\"ChannelCreate\":{\"name\":\"jobs\",\"capacity\":4096,"
                           "\"max_message\":64,\"producers\":4}}",
                           &q, &e),
                     0),
                  "%s", e.message);
        cr_assert(eq(int, q.call, MCD_CALL_CHANNEL_CREATE));
        cr_assert(eq(str, q.name, "/jobs"));
        cr_assert(eq(u64, q.capacity, 4096));
        cr_assert(eq(u64, q.max_message, 64));
        cr_assert(eq(u64, q.producers, 4));
        cr_assert(not(q.eventfd));
        mcd_request_done(&q);
        cr_assert(
                eq(int,
                   parse("{\"ChannelCreate\":{\"name\":\"e\",\"max_message\":8,\"eventfd\":true}}",
                         &q, &e),
                   0),
                "%s", e.message);
        cr_assert(q.eventfd);
        mcd_request_done(&q);

        cr_assert(
                eq(int,
                   parse("{\"ChannelOpen\":{\"name\":\"/a.b_c-9\",\"role\":\"consumer\"}}", &q, &e),
                   0),
                "%s", e.message);
        cr_assert(eq(str, q.name, "/a.b_c-9"));
        cr_assert(eq(int, q.role, MC_CHANNEL_CONSUMER));
        mcd_request_done(&q);
        cr_assert(
                eq(int, parse("{\"ChannelOpen\":{\"name\":\"x\",\"role\":\"none\"}}", &q, &e), 0));
        cr_assert(eq(int, q.role, MC_CHANNEL_NONE));
        mcd_request_done(&q);
}

/* Every hostile shape is InvalidArgument with a message naming the field. */
Test(channel_codec, hostile_requests_are_refused) {
        static const struct {
                const char *line, *part;
        } bad[] = {
                {"{\"ChannelCreate\":{\"name\":\"\",\"max_message\":8}}", "must not be empty"},
                {"{\"ChannelCreate\":{\"name\":\"/\",\"max_message\":8}}", "must not be empty"},
                {"{\"ChannelCreate\":{\"name\":\"a/b\",\"max_message\":8}}", "byte 1 is 0x2f"},
                {"{\"ChannelCreate\":{\"name\":\"//a\",\"max_message\":8}}", "byte 1 is 0x2f"},
                {"{\"ChannelCreate\":{\"name\":\"..\",\"max_message\":8}}", "'.' or '..'"},
                {"{\"ChannelCreate\":{\"name\":\"a\\u0000b\",\"max_message\":8}}", "0x00"},
                {"{\"ChannelCreate\":{\"name\":\"caf\\u00e9\",\"max_message\":8}}", "0xc3"},
                {"{\"ChannelCreate\":{\"name\":7,\"max_message\":8}}", "must be a string"},
                {"{\"ChannelCreate\":{\"name\":\"a\",\"max_message\":0}}", "'max_message'"},
                {"{\"ChannelCreate\":{\"name\":\"a\"}}", "missing field 'max_message'"},
                {"{\"ChannelCreate\":{\"name\":\"a\",\"max_message\":8,\"producers\":65}}",
                 "'producers' must be an integer from 0 to 64"},
                {"{\"ChannelCreate\":{\"name\":\"a\",\"max_message\":8,\"capacity\":-1}}",
                 "'capacity'"},
                {"{\"ChannelCreate\":{\"name\":\"a\",\"max_message\":8,\"role\":\"producer\"}}",
                 "unknown field 'role'"},
                {"{\"ChannelOpen\":{\"name\":\"a\"}}", "missing field 'role'"},
                {"{\"ChannelCreate\":{\"name\":\"a\",\"max_message\":8,\"eventfd\":1}}",
                 "field 'eventfd' must be true or false"},
                {"{\"ChannelOpen\":{\"name\":\"a\",\"role\":\"none\",\"eventfd\":true}}",
                 "unknown field 'eventfd'"},
                {"{\"ChannelOpen\":{\"name\":\"a\",\"role\":\"Producer\"}}", "field 'role'"},
                {"{\"ChannelOpen\":{\"name\":\"a\",\"role\":1}}", "field 'role'"},
                /* A NUL ends a C string, not a JSON one: this is no role at all. */
                {"{\"ChannelOpen\":{\"name\":\"a\",\"role\":\"producer\\u0000junk\"}}",
                 "field 'role'"},
                {"{\"ChannelOpen\":{\"name\":\"a\",\"role\":\"none\",\"max_message\":8}}",
                 "unknown field 'max_message'"},
        };
        char longname[300];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                mcd_request q = MCD_REQUEST_INIT;
                mc_error e = MC_ERROR_INIT;

                cr_assert(eq(int, parse(bad[i].line, &q, &e), -EINVAL), "accepted: %s",
                          bad[i].line);
                cr_assert(eq(int, e.kind, MC_ERR_INVALID_ARGUMENT));
                cr_assert(not(eq(ptr, strstr(e.message, bad[i].part), NULL)), "%s: message '%s'",
                          bad[i].line, e.message);
        }
        /* The longest name passes, one byte more does not. */
        for (size_t n = MCD_CHANNEL_NAME_MAX - 1; n <= MCD_CHANNEL_NAME_MAX; n++) {
                mcd_request q = MCD_REQUEST_INIT;
                mc_error e = MC_ERROR_INIT;
                char name[MCD_CHANNEL_NAME_MAX + 1];

                memset(name, 'n', n);
                name[n] = 0;
                snprintf(longname, sizeof(longname),
                         "{\"ChannelOpen\":{\"name\":\"/%s\",\"role\":\"none\"}}", name);
                cr_assert(eq(int, parse(longname, &q, &e), n < MCD_CHANNEL_NAME_MAX ? 0 : -EINVAL),
                          "%zu bytes: %s", n, e.message);
                mcd_request_done(&q);
        }
}

Test(channel_codec, reply) {
        static const char want[] =
                "{\"status\":\"success\",\"name\":\"/"
                "jobs\",\"capacity\":65536,\"max_message\":1024,"
                "\"max_producers\":1,\"role\":\"consumer\",\"eventfd\":false,\"fds\":1}\n";
        static const char want3[] =
                "{\"status\":\"success\",\"name\":\"/ev\",\"capacity\":64,\"max_message\":8,"
                "\"max_producers\":2,\"role\":\"none\",\"eventfd\":true,\"fds\":3}\n";
        mcd_buf b = MCD_BUF_INIT;
        mcd_channel_info info = {"/jobs", 65536, 1024, 1, MC_CHANNEL_CONSUMER, 1};
        mcd_channel_info ev = {"/ev", 64, 8, 2, MC_CHANNEL_NONE, 3};

        cr_assert(eq(int, mcd_reply_channel(&b, &info), 0));
        cr_assert(eq(sz, b.len, sizeof(want) - 1), "%.*s", (int) b.len, b.data);
        cr_assert(eq(int, memcmp(b.data, want, b.len), 0), "%.*s", (int) b.len, b.data);
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_channel(&b, &ev), 0));
        cr_assert(eq(sz, b.len, sizeof(want3) - 1), "%.*s", (int) b.len, b.data);
        cr_assert(eq(int, memcmp(b.data, want3, b.len), 0), "%.*s", (int) b.len, b.data);
        mcd_buf_done(&b);
}

/* ---- the daemon ----------------------------------------------------------------------------- */

static void fini(void) {
        daemon_cleanup();
        mc_test_fini();
}

static void need_root(void) {
        if (geteuid() != 0)
                cr_skip_test("needs root (setresuid to other uids)");
}

/* Channel for root and the two test uids; every other capability for root. */
#define CHANNEL_CAPS                                                                               \
        "\"capabilities\": {\"0\": [\"FileRead\", \"Channel\"], \"65534\": [\"Channel\"], "        \
        "\"65533\": [\"Channel\"], \"*\": []}"

static mcc *conn_open(mc_error *e) {
        mcc *c = NULL;

        return mcc_open(D.sock, &c, e) < 0 ? NULL : c;
}

/* A connection to the daemon, or the test fails. */
static mcc *conn_ok(void) {
        mc_error e = MC_ERROR_INIT;
        mcc *c = conn_open(&e);

        cr_assert(not(eq(ptr, c, NULL)), "%s", e.message);
        return c;
}

/* One call; the descriptor of a successful reply in *@ret_fd (-EBADF when none came). */
static int chan_call(mcc *c, const char *call, const char *args_json, json_t **ret_reply,
                     int *ret_fd, mc_error *e) {
        json_t *args = json_loads(args_json, 0, NULL);

        if (!args)
                return mc_error_set(e, MC_ERR_INVALID_ARGUMENT, EINVAL, "bad test JSON");
        return mcc_call(c, call, args, ret_reply, ret_fd, e);
}

/* ChannelOpen and mc_channel_open_fd(): an end of channel @name in @ret. */
static int open_end(mc_ctx *ctx, mcc *c, const char *name, mc_channel_role role, mc_channel *ret,
                    mc_error *e) {
        mc_channel_fds fds = MC_CHANNEL_FDS_INIT;
        char args[256];
        int fd = -1, r;

        snprintf(args, sizeof(args), "{\"name\": \"%s\", \"role\": \"%s\"}", name,
                 mc_channel_role_name(role));
        r = chan_call(c, "ChannelOpen", args, NULL, &fd, e);
        if (r < 0)
                return r;
        if (fd < 0)
                return mc_error_set(e, MC_ERR_IO, EPROTO, "ChannelOpen: no descriptor came");
        fds.region = fd;
        r = mc_channel_open_fd(ctx, &fds, role, ret, e);
        close(fd);
        return r;
}

static void expect_error(mcc *c, const char *call, const char *args, mc_error_kind kind,
                         const char *part) {
        mc_error e = MC_ERROR_INIT;
        int fd = -1;

        cr_assert(lt(int, chan_call(c, call, args, NULL, &fd, &e), 0), "%s %s succeeded", call,
                  args);
        cr_assert(eq(int, fd, -1), "a descriptor came with a failure");
        cr_assert(eq(str, (char *) mc_error_kind_name(e.kind), (char *) mc_error_kind_name(kind)),
                  "%s %s: %s", call, args, e.message);
        cr_assert(not(eq(ptr, strstr(e.message, part), NULL)), "%s %s: '%s' lacks '%s'", call, args,
                  e.message, part);
}

static void create_ok(mcc *c, const char *args) {
        mc_error e = MC_ERROR_INIT;
        json_t *reply = NULL;
        int fd = -1;

        cr_assert(eq(int, chan_call(c, "ChannelCreate", args, &reply, &fd, &e), 0), "%s: %s", args,
                  e.message);
        cr_assert(ge(int, fd, 0), "no descriptor with the ChannelCreate reply");
        cr_assert(eq(int, (int) json_integer_value(json_object_get(reply, "fds")), 1));
        close(fd);
        json_decref(reply);
}

/* A daemon that grants Channel (CHANNEL_CAPS), a connection, and the channel @create_args. */
static mcc *daemon_with_channel(const char *create_args) {
        mcc *c;

        daemon_start_with_policy(CHANNEL_CAPS, NULL);
        c = conn_ok();
        create_ok(c, create_args);
        return c;
}

/* ChannelOpen @args, which must succeed; the descriptor that came with the reply. */
static int open_ok(mcc *c, const char *args) {
        mc_error e = MC_ERROR_INIT;
        int fd = -1;

        cr_assert(eq(int, chan_call(c, "ChannelOpen", args, NULL, &fd, &e), 0), "%s: %s", args,
                  e.message);
        return fd;
}

/*
 * A child that becomes @uid, connects on its own (so the daemon sees @uid) and runs @fn;
 * returns its pid. The child exits 0 on success, CHILD_FAIL with a message on stderr otherwise.
 */
static pid_t spawn_as(uid_t uid, int (*fn)(mc_ctx *ctx, mcc **c, const char *name),
                      const char *name) {
        pid_t pid = fork();

        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;
                mc_ctx *ctx = NULL;
                mcc *c;
                int r;

                if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(CHILD_FAIL);
                c = conn_open(&e);
                if (!c || mc_ctx_new(&ctx, &e) < 0) {
                        fprintf(stderr, "child %u: %s\n", (unsigned) uid, e.message);
                        _exit(CHILD_FAIL);
                }
                r = fn(ctx, &c, name);
                mcc_close(c);
                mc_ctx_free(ctx);
                _exit(r == 0 ? 0 : CHILD_FAIL);
        }
        return pid;
}

/* Wait for @pid, bounded; its exit status, or -1 (killed) on timeout. */
static int reap(pid_t pid) {
        int64_t end = mct_now_ms() + 3 * WAIT_MS;
        int status;

        while (mct_now_ms() < end) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                mct_sleep_ms(5);
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
}

#define MESSAGES 50

static int produce(mc_ctx *ctx, mcc **c, const char *name) {
        mc_error e = MC_ERROR_INIT;
        mc_channel ch = {0};
        char msg[64];
        int r;

        r = open_end(ctx, *c, name, MC_CHANNEL_PRODUCER, &ch, &e);
        for (int i = 0; r >= 0 && i < MESSAGES; i++) {
                int n = snprintf(msg, sizeof(msg), "message %d from uid %u", i,
                                 (unsigned) getuid());
                r = mc_channel_send(&ch, msg, (size_t) n, WAIT_NS, &e);
        }
        if (r < 0)
                fprintf(stderr, "producer: %s\n", e.message);
        if (ch.impl)
                mc_channel_close(&ch, NULL);
        return r < 0 ? r : 0;
}

static int consume(mc_ctx *ctx, mcc **c, const char *name) {
        mc_error e = MC_ERROR_INIT;
        mc_channel ch = {0};
        char msg[64], want[64];
        int r;

        r = open_end(ctx, *c, name, MC_CHANNEL_CONSUMER, &ch, &e);
        for (int i = 0; r >= 0 && i < MESSAGES; i++) {
                int n = snprintf(want, sizeof(want), "message %d from uid %u", i,
                                 (unsigned) NOBODY);
                r = mc_channel_recv(&ch, msg, sizeof(msg), WAIT_NS, &e);
                if (r >= 0 && (r != n || memcmp(msg, want, (size_t) n) != 0)) {
                        fprintf(stderr, "consumer: got '%.*s', want '%s'\n", r, msg, want);
                        r = -EBADMSG;
                }
        }
        if (r < 0 && r != -EBADMSG)
                fprintf(stderr, "consumer: %s\n", e.message);
        if (ch.impl)
                mc_channel_close(&ch, NULL);
        return r < 0 ? r : 0;
}

TestSuite(daemon_channel, .init = setup_dir, .fini = fini, .timeout = 120);

/*
 * Two processes of different uids, neither of which created the channel nor shares a path
 * with the other, exchange messages through the region memcapd hands out.
 */
Test(daemon_channel, two_uids_exchange_messages) {
        mc_error e = MC_ERROR_INIT;
        mc_channel_counts st;
        mc_channel obs = {0};
        mc_ctx *ctx = NULL;
        pid_t cons, prod;
        mcc *c;

        need_root();
        c = daemon_with_channel("{\"name\": \"jobs\", \"max_message\": 64, \"capacity\": 1024}");
        cons = spawn_as(OTHER_UID, consume, "jobs");
        prod = spawn_as(NOBODY, produce, "/jobs");
        cr_assert(eq(int, reap(prod), 0), "the producer (uid %u) failed", (unsigned) NOBODY);
        cr_assert(eq(int, reap(cons), 0), "the consumer (uid %u) failed", (unsigned) OTHER_UID);

        /* An observer reads the counters the ends kept in the region. */
        cr_assert(eq(int, mc_ctx_new(&ctx, &e), 0));
        cr_assert(eq(int, open_end(ctx, c, "jobs", MC_CHANNEL_NONE, &obs, &e), 0), "%s", e.message);
        cr_assert(eq(int, mc_channel_stats(&obs, &st, &e), 0));
        cr_assert(eq(u64, st.sent, MESSAGES));
        cr_assert(eq(u64, st.received, MESSAGES));
        cr_assert(eq(u64, st.capacity, 1024));
        cr_assert(eq(int, mc_channel_close(&obs, &e), 0));
        mc_ctx_free(ctx);
        mcc_close(c);
}

/* The observer's descriptor is read-only: it cannot write the region it only reads. */
Test(daemon_channel, observer_descriptor_is_read_only) {
        int fd = -1;
        mcc *c;

        need_root();
        c = daemon_with_channel("{\"name\": \"ro\", \"max_message\": 8}");
        fd = open_ok(c, "{\"name\": \"ro\", \"role\": \"none\"}");
        cr_assert(eq(int, fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY));
        cr_assert(eq(ptr, mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED));
        close(fd);
        fd = open_ok(c, "{\"name\": \"ro\", \"role\": \"producer\"}");
        cr_assert(eq(int, fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR));
        close(fd);
        mcc_close(c);
}

/* Off by default: the daemon's own uid has every other capability and still not Channel. */
Test(daemon_channel, capability_is_off_by_default) {
        mc_error e = MC_ERROR_INIT;
        char *caps;
        json_t *reply = NULL;
        mcc *c;

        daemon_start_with_policy(NULL, NULL);
        c = conn_ok();
        expect_error(c, "ChannelCreate", "{\"name\": \"a\", \"max_message\": 8}",
                     MC_ERR_PERMISSION_DENIED, "lacks Channel");
        expect_error(c, "ChannelOpen", "{\"name\": \"a\", \"role\": \"consumer\"}",
                     MC_ERR_PERMISSION_DENIED, "lacks Channel");
        cr_assert(eq(int, mcc_call(c, "Hello", NULL, &reply, NULL, &e), 0));
        caps = json_dumps(json_object_get(json_object_get(reply, "data"), "capabilities"), 0);
        cr_assert(not(eq(ptr, caps, NULL)));
        cr_assert(not(eq(ptr, strstr(caps, "FdPass"), NULL)), "%s", caps);
        cr_assert(eq(ptr, strstr(caps, "Channel"), NULL), "%s", caps);
        free(caps);
        json_decref(reply);
        mcc_close(c);
}

Test(daemon_channel, hostile_requests) {
        mc_error e = MC_ERROR_INIT;
        mc_channel cons = {0};
        mc_ctx *ctx = NULL;
        mcc *c;

        need_root();
        daemon_start_with_policy(CHANNEL_CAPS ", \"max_bytes_per_client\": \"256KiB\"",
                                 "{\"allowed_shared_memory\": [\"ok-*\"]}");
        c = conn_ok();
        expect_error(c, "ChannelCreate", "{\"name\": \"nope\", \"max_message\": 8}",
                     MC_ERR_POLICY_VIOLATION, "allowed_shared_memory");
        expect_error(c, "ChannelCreate", "{\"name\": \"ok-a/b\", \"max_message\": 8}",
                     MC_ERR_INVALID_ARGUMENT, "field 'name'");
        expect_error(c, "ChannelCreate", "{\"name\": \"ok-a\", \"max_message\": 0}",
                     MC_ERR_INVALID_ARGUMENT, "max_message");
        expect_error(c, "ChannelCreate",
                     "{\"name\": \"ok-a\", \"max_message\": 8, \"capacity\": 1099511627776}",
                     MC_ERR_INVALID_ARGUMENT, "exceeds the largest ring");
        expect_error(c, "ChannelCreate",
                     "{\"name\": \"ok-a\", \"max_message\": 9223372036854775807}",
                     MC_ERR_INVALID_ARGUMENT, "exceeds the largest ring");
        expect_error(c, "ChannelCreate",
                     "{\"name\": \"ok-a\", \"max_message\": 8, \"capacity\": 100}",
                     MC_ERR_INVALID_ARGUMENT, "");
        expect_error(c, "ChannelCreate",
                     "{\"name\": \"ok-a\", \"max_message\": 8, \"capacity\": 1048576}",
                     MC_ERR_POLICY_VIOLATION, "limit per client");
        expect_error(c, "ChannelOpen", "{\"name\": \"ok-missing\", \"role\": \"consumer\"}",
                     MC_ERR_NOT_FOUND, "no channel");

        create_ok(c, "{\"name\": \"ok-a\", \"max_message\": 8, \"capacity\": 4096}");
        expect_error(c, "ChannelCreate", "{\"name\": \"/ok-a\", \"max_message\": 8}",
                     MC_ERR_ALREADY_EXISTS, "exists");
        /* A second consumer learns from the daemon that the end is taken. */
        cr_assert(eq(int, mc_ctx_new(&ctx, &e), 0));
        cr_assert(eq(int, open_end(ctx, c, "ok-a", MC_CHANNEL_CONSUMER, &cons, &e), 0), "%s",
                  e.message);
        expect_error(c, "ChannelOpen", "{\"name\": \"ok-a\", \"role\": \"consumer\"}",
                     MC_ERR_ALREADY_EXISTS, "consumer");
        cr_assert(eq(int, mc_channel_close(&cons, &e), 0));
        /* Once it closed, the end is free again. */
        cr_assert(eq(int, open_end(ctx, c, "ok-a", MC_CHANNEL_CONSUMER, &cons, &e), 0), "%s",
                  e.message);
        cr_assert(eq(int, mc_channel_close(&cons, &e), 0));
        mc_ctx_free(ctx);

        /* Bounded per process: the 17th channel of one client is refused. */
        for (int i = 1; i < MCD_CHANNELS_PER_CLIENT; i++) {
                char args[96];
                snprintf(args, sizeof(args),
                         "{\"name\": \"ok-%d\", \"max_message\": 8, "
                         "\"capacity\": 64}",
                         i);
                create_ok(c, args);
        }
        expect_error(c, "ChannelCreate",
                     "{\"name\": \"ok-x\", \"max_message\": 8, \"capacity\": 64}",
                     MC_ERR_POLICY_VIOLATION, "limit per client");
        mcc_close(c);
}

static int hold_channel(mc_ctx *ctx, mcc **c, const char *name) {
        mc_error e = MC_ERROR_INIT;
        char args[128];
        int fd = -1, r;

        (void) ctx;
        snprintf(args, sizeof(args), "{\"name\": \"%s\", \"max_message\": 32}", name);
        r = chan_call(*c, "ChannelCreate", args, NULL, &fd, &e);
        if (r < 0)
                fprintf(stderr, "creator: %s\n", e.message);
        if (fd >= 0)
                close(fd);
        /* Disconnect first: the channel outlives the connection, not the process. */
        mcc_close(*c);
        *c = NULL;
        mct_sleep_ms(300);
        return r;
}

/*
 * The channel lives while its creator lives, connected or not; once it exits the name is
 * forgotten, and ends already open go on talking.
 */
Test(daemon_channel, creator_exit_forgets_the_name_not_the_ends) {
        mc_error e = MC_ERROR_INIT;
        mc_channel prod = {0}, cons = {0};
        mc_ctx *ctx = NULL;
        char buf[8];
        int64_t end;
        pid_t creator;
        mcc *c;
        int r;

        need_root();
        daemon_start_with_policy(CHANNEL_CAPS, NULL);
        cr_assert(eq(int, mc_ctx_new(&ctx, &e), 0));
        creator = spawn_as(0, hold_channel, "short");
        c = conn_ok();
        /* Bounded wait until the creator made it. */
        end = mct_now_ms() + WAIT_MS;
        while ((r = open_end(ctx, c, "short", MC_CHANNEL_PRODUCER, &prod, &e)) == -ENOENT &&
               mct_now_ms() < end)
                mct_sleep_ms(10);
        cr_assert(eq(int, r, 0), "%s", e.message);
        cr_assert(eq(int, open_end(ctx, c, "short", MC_CHANNEL_CONSUMER, &cons, &e), 0), "%s",
                  e.message);
        cr_assert(eq(int, reap(creator), 0));

        end = mct_now_ms() + WAIT_MS;
        do {
                int fd = -1;
                r = chan_call(c, "ChannelOpen", "{\"name\": \"short\", \"role\": \"none\"}", NULL,
                              &fd, &e);
                if (fd >= 0)
                        close(fd);
                if (r == -ENOENT)
                        break;
                mct_sleep_ms(10);
        } while (mct_now_ms() < end);
        cr_assert(eq(int, r, -ENOENT), "the channel outlived its creator: %s", e.message);

        cr_assert(eq(int, mc_channel_send(&prod, "still", 5, WAIT_NS, &e), 0), "%s", e.message);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), WAIT_NS, &e), 5), "%s",
                  e.message);
        cr_assert(eq(int, memcmp(buf, "still", 5), 0));
        mc_channel_close(&prod, NULL);
        mc_channel_close(&cons, NULL);
        mc_ctx_free(ctx);
        mcc_close(c);
}

/* Opens are audited with the channel's name and the role. */
Test(daemon_channel, requests_are_audited) {
        char buf[16384];
        ssize_t n;
        int fd = -1;
        mcc *c;

        need_root();
        c = daemon_with_channel("{\"name\": \"aud\", \"max_message\": 8}");
        fd = open_ok(c, "{\"name\": \"aud\", \"role\": \"producer\"}");
        close(fd);
        mcc_close(c);
        fd = open(D.audit, O_RDONLY | O_CLOEXEC);
        cr_assert(ge(int, fd, 0));
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        cr_assert(gt(sz, (size_t) n, 0));
        buf[n] = 0;
        cr_assert(not(eq(ptr, strstr(buf, "\"call\":\"ChannelCreate\""), NULL)), "%s", buf);
        cr_assert(not(eq(ptr, strstr(buf, "\"channel\":\"/aud\""), NULL)), "%s", buf);
        cr_assert(not(eq(ptr, strstr(buf, "\"role\":\"producer\""), NULL)), "%s", buf);
}

/*
 * A client that pipelines many opens without reading gets every reply, each with its own
 * descriptor, in order: the daemon queues at most 64 descriptors per connection and waits for
 * the client to read. A client whose control buffer has no room (MSG_CTRUNC) loses only that
 * descriptor, and the connection goes on.
 */
Test(daemon_channel, flooding_opens_is_bounded_and_loses_nothing) {
        enum { N = 300 };
        static const char req[] = "{\"ChannelOpen\": {\"name\": \"flood\", \"role\": \"none\"}}\n";
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t lines = 0, fds = 0, truncated = 0;
        char buf[4096];
        int s;
        mcc *c;

        need_root();
        c = daemon_with_channel("{\"name\": \"flood\", \"max_message\": 8}");

        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strscpy(sa.sun_path, sizeof(sa.sun_path), D.sock);
        cr_assert(eq(int, connect(s, (struct sockaddr *) &sa, sizeof(sa)), 0));
        for (int i = 0; i < N; i++)
                cr_assert(eq(sz, (size_t) write(s, req, sizeof(req) - 1), sizeof(req) - 1));
        while (lines < N) {
                char cbuf[CMSG_SPACE(sizeof(int))];
                struct iovec iov = {buf, sizeof(buf)};
                /* Every tenth read offers no room for a descriptor. */
                bool room = (lines % 10) != 5;
                struct msghdr m = {.msg_iov = &iov,
                                   .msg_iovlen = 1,
                                   .msg_control = room ? cbuf : NULL,
                                   .msg_controllen = room ? sizeof(cbuf) : 0};
                struct pollfd p = {.fd = s, .events = POLLIN};
                ssize_t n;

                cr_assert(eq(int, poll(&p, 1, WAIT_MS), 1), "no reply after %zu lines", lines);
                n = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
                cr_assert(gt(sz, (size_t) (n > 0 ? n : 0), 0), "the daemon closed after %zu lines",
                          lines);
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); room && cm; cm = CMSG_NXTHDR(&m, cm))
                        if (cm->cmsg_type == SCM_RIGHTS) {
                                int fd;
                                memcpy(&fd, CMSG_DATA(cm), sizeof(int));
                                close(fd);
                                fds++;
                        }
                truncated += (m.msg_flags & MSG_CTRUNC) != 0;
                for (ssize_t i = 0; i < n; i++)
                        lines += buf[i] == '\n';
                cr_assert(eq(ptr, memmem(buf, (size_t) n, "\"error\"", 7), NULL), "%.*s", (int) n,
                          buf);
        }
        cr_assert(eq(sz, lines, N));
        cr_assert(gt(sz, truncated, 0), "no read was truncated: the test did not test it");
        cr_assert(eq(sz, fds + truncated, N), "%zu descriptors + %zu truncated", fds, truncated);
        close(s);
        /* The daemon is still well. */
        create_ok(c, "{\"name\": \"after\", \"max_message\": 8}");
        mcc_close(c);
}

/* Send @req on @s and receive its reply with room for @room descriptors; *@ret_trunc says
 * whether the kernel had to drop some (MSG_CTRUNC). Returns how many came, into @fds. */
static size_t raw_call(int s, const char *req, size_t room, int *fds, bool *ret_trunc) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(4 * sizeof(int))];
        } control;
        char line[1024];
        struct iovec iov = {line, sizeof(line)};
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = control.buf,
                           .msg_controllen = CMSG_SPACE(room * sizeof(int))};
        struct pollfd p = {.fd = s, .events = POLLIN};
        size_t n = 0;
        ssize_t k;

        cr_assert(le(sz, room, 4));
        cr_assert(eq(sz, (size_t) write(s, req, strlen(req)), strlen(req)));
        cr_assert(eq(int, poll(&p, 1, WAIT_MS), 1), "no reply to %s", req);
        k = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
        cr_assert(gt(sz, (size_t) (k > 0 ? k : 0), 0));
        cr_assert(eq(ptr, memmem(line, (size_t) k, "\"error\"", 7), NULL), "%.*s", (int) k, line);
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
                if (cm->cmsg_type == SCM_RIGHTS)
                        for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                                memcpy(&fds[n++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
        *ret_trunc = (m.msg_flags & MSG_CTRUNC) != 0;
        return n;
}

/*
 * An eventfd channel: its region and both eventfds come with one reply, and the consumer's
 * descriptor becomes readable when the producer sends. A client with room for one descriptor
 * gets the first and MSG_CTRUNC, and the connection goes on.
 */
Test(daemon_channel, eventfd_channel_passes_three_descriptors) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        mc_channel_fds pf, cf;
        mc_error e = MC_ERROR_INIT;
        mc_channel prod = {0}, cons = {0};
        mc_ctx *ctx = NULL;
        int fds[4], evfd;
        struct pollfd p;
        char buf[16];
        bool trunc;
        int s;

        need_root();
        daemon_start_with_policy(CHANNEL_CAPS, NULL);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strscpy(sa.sun_path, sizeof(sa.sun_path), D.sock);
        cr_assert(eq(int, connect(s, (struct sockaddr *) &sa, sizeof(sa)), 0));

        cr_assert(eq(sz,
                     raw_call(s,
                              "{\"ChannelCreate\":{\"name\":\"ev\",\"max_message\":8,"
                              "\"eventfd\":true}}\n",
                              4, fds, &trunc),
                     3));
        cr_assert(not(trunc));
        for (int i = 0; i < 3; i++)
                close(fds[i]);
        cr_assert(eq(sz,
                     raw_call(s, "{\"ChannelOpen\":{\"name\":\"ev\",\"role\":\"consumer\"}}\n", 3,
                              fds, &trunc),
                     3));
        cr_assert(not(trunc));
        cf = (mc_channel_fds){fds[0], fds[1], fds[2]};
        cr_assert(eq(sz,
                     raw_call(s, "{\"ChannelOpen\":{\"name\":\"ev\",\"role\":\"producer\"}}\n", 3,
                              fds, &trunc),
                     3));
        pf = (mc_channel_fds){fds[0], fds[1], fds[2]};

        cr_assert(eq(int, mc_ctx_new(&ctx, &e), 0));
        cr_assert(eq(int, mc_channel_open_fd(ctx, &cf, MC_CHANNEL_CONSUMER, &cons, &e), 0), "%s",
                  e.message);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &pf, MC_CHANNEL_PRODUCER, &prod, &e), 0), "%s",
                  e.message);
        cr_assert(eq(int, mc_channel_fd(&cons, &evfd, &e), 0), "%s", e.message);
        /* Armed by a try that found nothing, then readable once a message is sent. */
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &e), -EAGAIN));
        cr_assert(eq(int, mc_channel_send(&prod, "ev", 2, WAIT_NS, &e), 0), "%s", e.message);
        p = (struct pollfd){.fd = evfd, .events = POLLIN};
        cr_assert(eq(int, poll(&p, 1, WAIT_MS), 1), "the eventfd did not become readable");
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &e), 2), "%s", e.message);

        /* Room for one (CMSG_SPACE rounds it up to two on 64-bit): what does not fit is dropped by
         * the kernel, MSG_CTRUNC says so, and the region comes first. */
        {
                size_t n = raw_call(s, "{\"ChannelOpen\":{\"name\":\"ev\",\"role\":\"none\"}}\n", 1,
                                    fds, &trunc);

                cr_assert(ge(sz, n, 1));
                cr_assert(lt(sz, n, 3));
                cr_assert(trunc);
                cr_assert(eq(int, fcntl(fds[0], F_GETFL) & O_ACCMODE, O_RDONLY), "not the region");
                for (size_t i = 0; i < n; i++)
                        close(fds[i]);
        }
        /* The connection goes on. */
        cr_assert(eq(sz,
                     raw_call(s, "{\"ChannelOpen\":{\"name\":\"ev\",\"role\":\"none\"}}\n", 3, fds,
                              &trunc),
                     3));
        cr_assert(not(trunc));
        for (int i = 0; i < 3; i++)
                close(fds[i]);
        close(cf.region), close(cf.recv_event), close(cf.send_event);
        close(pf.region), close(pf.recv_event), close(pf.send_event);
        mc_channel_close(&prod, NULL);
        mc_channel_close(&cons, NULL);
        mc_ctx_free(ctx);
        close(s);
}
