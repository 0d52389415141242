/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The memcapd server: one epoll loop over the listening socket, client connections, the pidfds
 * of client processes and memcap's signal descriptor. Requests are handled as they arrive, in
 * order, and their replies queued per connection; a client that does not read its replies is
 * paused, never served at the others' expense.
 */

#include <stdbool.h>

#include <memcap/memcap.h>

#include "settings.h"

typedef struct mcd_server mcd_server;

/*
 * Set up: the context (policy, audit), the manager over the root, the listening socket (or
 * @listen_fd from socket activation when >= 0), signal handling. @config_path is re-read on
 * SIGHUP (NULL: only the policy file is).
 */
int mcd_server_new(const mcd_config *cfg, const char *config_path, int listen_fd, mcd_server **ret,
                   mc_error *err);

/* Serve until SIGTERM/SIGINT, then shut down gracefully. Returns the exit status. */
int mcd_server_run(mcd_server *s);

/* Close everything; unlinks the socket the server created. Accepts NULL. */
void mcd_server_free(mcd_server *s);
