/* SPDX-License-Identifier: MIT */
/*
 * Built with -std=c99 -pedantic-errors and only the public umbrella header: a program written
 * in strict C99 must be able to use memcap. Running it also checks the library links.
 */
#include <memcap/memcap.h>

#include <stdio.h>
#include <string.h>

int main(void) {
        mc_error err = MC_ERROR_INIT;
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_shared_request sreq = MC_SHARED_REQUEST_INIT;
        mc_map_file_options opts = MC_MAP_FILE_OPTIONS_INIT;
        mc_channel_options copts = MC_CHANNEL_OPTIONS_INIT;
        mc_channel_fds fds = MC_CHANNEL_FDS_INIT;

        (void) req;
        (void) sreq;
        (void) opts;
        (void) copts;
        (void) fds;
        if (strcmp(mc_error_kind_name(MC_ERR_ALIGNMENT), "AlignmentError") != 0 ||
            err.kind != MC_OK || strcmp(mc_version(), MEMCAP_VERSION_STRING) != 0) {
                fputs("headers-c99: unexpected values\n", stderr);
                return 1;
        }
        return 0;
}
