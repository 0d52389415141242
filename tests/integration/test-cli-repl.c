/* SPDX-License-Identifier: MIT */
/*
 * memcap client at a terminal: the interactive session, driven through a pseudo-terminal
 * (forkpty(3)) against the built memcapd, as a person would type at it. Every read of the
 * terminal waits at most 20 s and fails with what the session printed so far.
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
#include <pty.h>
#include <termios.h>

static void fini(void) {
        daemon_cleanup();
        mc_test_fini();
}

TestSuite(cli_repl, .init = daemon_start_with_data, .fini = fini, .timeout = 120);

typedef struct term {
        int fd; /* the terminal's master side */
        pid_t pid;
        char *out; /* everything the session printed */
        size_t len;
} term;

/* memcap @args on a new pseudo-terminal, with $MEMCAP_HISTORY in the scratch directory. */
static void term_start(term *t, const char *const *args) {
        const char *bin = memcap_path();
        char hist[300];
        const char *argv[16];
        size_t n = 0;

        snprintf(hist, sizeof(hist), "%s/history", D.dir);
        argv[n++] = bin;
        for (; *args; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        *t = (term){.out = calloc(1, 1)};
        cr_assert(not(eq(ptr, t->out, NULL)));
        t->pid = forkpty(&t->fd, NULL, NULL, NULL);
        cr_assert(ge(int, t->pid, 0), "forkpty: %s", strerror(errno));
        if (t->pid == 0) {
                setenv("MEMCAP_HISTORY", hist, 1);
                setenv("TERM", "dumb", 1);
                unsetenv("MEMCAPD_SOCKET");
                execv(bin, (char *const *) argv);
                _exit(127);
        }
}

/* Read the terminal until what the session printed since @from holds @needle. */
static void term_expect(term *t, size_t *from, const char *needle) {
        int64_t end = mct_now_ms() + 20000;
        char *hit;

        while (!(hit = strstr(t->out + *from, needle))) {
                struct pollfd p = {t->fd, POLLIN, 0};
                char buf[4096];
                ssize_t n;
                char *nb;

                cr_assert(lt(i64, mct_now_ms(), end), "no '%s' within 20 s; the session says:\n%s",
                          needle, t->out);
                if (poll(&p, 1, 500) <= 0)
                        continue;
                n = read(t->fd, buf, sizeof(buf));
                cr_assert(gt(int, (int) n, 0), "the session ended; it said:\n%s", t->out);
                nb = realloc(t->out, t->len + (size_t) n + 1);
                cr_assert(not(eq(ptr, nb, NULL)));
                t->out = nb;
                memcpy(t->out + t->len, buf, (size_t) n);
                t->len += (size_t) n;
                t->out[t->len] = 0;
        }
        *from = (size_t) (hit - t->out) + strlen(needle);
}

static void term_type(term *t, const char *text) {
        cr_assert(eq(int, (int) write(t->fd, text, strlen(text)), (int) strlen(text)));
}

/*
 * Type Ctrl-D once the line editor reads the terminal character by character. Typed while the
 * terminal is still in canonical mode (the prompt can be on the screen a moment before), the
 * line discipline turns it into an end-of-file that leaving canonical mode discards. The master
 * side of a pty reports the terminal's modes.
 */
static void term_type_eof(term *t) {
        int64_t end = mct_now_ms() + 20000;
        struct termios tio;

        for (;;) {
                cr_assert(eq(int, tcgetattr(t->fd, &tio), 0), "tcgetattr: %s", strerror(errno));
                if (!(tio.c_lflag & ICANON))
                        break;
                cr_assert(lt(i64, mct_now_ms(), end),
                          "the session never left canonical mode; it said:\n%s", t->out);
                mct_sleep_ms(10);
        }
        term_type(t, "\x04");
}

/* Type the command @line, wait for @want (unless NULL) and then for the next prompt. */
static void term_command(term *t, size_t *at, const char *line, const char *want) {
        term_type(t, line);
        if (want)
                term_expect(t, at, want);
        term_expect(t, at, "memcap> ");
}

/* Wait for the session to end; its exit status. */
static int term_finish(term *t) {
        int status = mct_wait_pid(t->pid, 20000);

        if (status == -1) {
                kill(t->pid, SIGKILL);
                waitpid(t->pid, NULL, 0);
        }
        cr_assert(not(eq(int, status, -1)), "the session did not end; it said:\n%s", t->out);
        close(t->fd);
        free(t->out);
        cr_assert(eq(int, WIFEXITED(status) ? 1 : 0, 1));
        return WEXITSTATUS(status);
}

Test(cli_repl, prompts_runs_commands_and_survives_errors) {
        size_t at = 0;
        char hist[300], *saved;
        term t;

        term_start(&t, (const char *const[]){"client", "--socket", D.sock, NULL});
        term_expect(&t, &at, "memcap> ");
        term_command(&t, &at, "hello\n", "daemon        memcapd");
        /* An error ends the command, not the session. */
        term_command(&t, &at, "frobnicate\n", "unknown command 'frobnicate'");
        term_command(&t, &at, "read 999\n", "MmapStats failed");
        /* The session's mappings live on between lines: % names the last one. */
        term_command(&t, &at, "mmap /data/f --shared --prot rw\n", NULL);
        term_command(&t, &at, "read % --length 5\n", "hello");
        term_type_eof(&t);
        cr_assert(eq(int, term_finish(&t), 0));

        /* The history was kept (libedit writes a blank as \040). */
        snprintf(hist, sizeof(hist), "%s/history", D.dir);
        saved = slurp(hist);
        for (char *p; (p = strstr(saved, "\\040"));) {
                *p = ' ';
                memmove(p + 1, p + 4, strlen(p + 4) + 1);
        }
        cr_assert(not(eq(ptr, strstr(saved, "read % --length 5"), NULL)), "history:\n%s", saved);
        free(saved);
}

Test(cli_repl, session_at_a_terminal_is_interactive_and_quit_ends_it) {
        size_t at = 0;
        term t;

        term_start(&t, (const char *const[]){"client", "--socket", D.sock, "session", NULL});
        term_expect(&t, &at, "memcap> ");
        term_command(&t, &at, "stats 12345\n", "MmapStats failed");
        term_type(&t, "quit\n");
        cr_assert(eq(int, term_finish(&t), 0));
}
