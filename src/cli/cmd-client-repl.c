/* SPDX-License-Identifier: MIT */
/*
 * memcap client at a terminal: the session as people use it. A prompt, line editing and a
 * history (libedit's readline interface), and errors that end a command, not the session:
 * mappings live as long as this process, so losing the session to a typo would lose them.
 *
 * The lines are those of `memcap client session` (client_session_line()), so % and %N name the
 * mappings made here, and "help" shows the commands.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>

#include "cmd-client.h"

/* Lines of history kept. */
#define HISTORY_MAX 1000

/* $MEMCAP_HISTORY, else ~/.memcap_history; "" when there is no home to keep it in. */
static void history_path(char *buf, size_t size) {
        const char *env = getenv("MEMCAP_HISTORY"), *home = getenv("HOME");

        buf[0] = 0;
        if (env && *env)
                snprintf(buf, size, "%s", env);
        else if (home && home[0] == '/')
                snprintf(buf, size, "%s/.memcap_history", home);
}

/* Whether @line (blank-trimmed) is @word. */
static bool line_is(const char *line, const char *word) {
        size_t n = strlen(word);

        line += strspn(line, " \t");
        return strncmp(line, word, n) == 0 && line[n + strspn(line + n, " \t")] == 0;
}

int client_repl(client_state *st) {
        char hist[PATH_MAX];
        unsigned lineno = 0;
        char *line;

        history_path(hist, sizeof(hist));
        using_history();
        stifle_history(HISTORY_MAX);
        if (hist[0])
                (void) read_history(hist);
        fputs("memcap client: interactive session; 'help' lists the commands, Ctrl-D ends it.\n",
              stdout);

        while ((line = readline("memcap> "))) {
                size_t len = strlen(line);
                int r;

                lineno++;
                if (line_is(line, "quit") || line_is(line, "exit")) {
                        free(line);
                        break;
                }
                if (line[strspn(line, " \t")] != 0)
                        add_history(line);
                r = client_session_line(st, line, len, lineno, /* echo= */ false);
                free(line);
                /* The error was printed by the command; the session goes on. */
                (void) r;
                if (cli_finish_output() != 0)
                        break;
        }
        if (!line)
                putchar('\n'); /* Ctrl-D leaves the cursor after the prompt */
        if (hist[0] && write_history(hist) != 0)
                log_error("could not save the history to '%s'", hist);
        return 0;
}
