/* SPDX-License-Identifier: MIT */
#include "audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "mctest.h"

json_t *audit_file_load(const char *path, size_t json_flags, bool with_bytes) {
        char *log = mct_read_all(path, NULL);
        json_t *all = json_array();

        cr_assert(not(eq(ptr, all, NULL)));
        cr_assert(log || errno == ENOENT, "%s: %s", path, strerror(errno));
        for (char *p = log ?: "", *nl; *p; p = nl + 1) {
                json_error_t jerr;
                json_t *rec;

                nl = strchr(p, '\n');
                cr_assert(not(eq(ptr, nl, NULL)), "the audit log's last line is incomplete: %s", p);
                *nl = 0;
                rec = json_loads(p, json_flags, &jerr);
                cr_assert(not(eq(ptr, rec, NULL)), "audit line %zu is not JSON (%s): %s",
                          json_array_size(all) + 1, jerr.text, p);
                if (with_bytes)
                        json_object_set_new(rec, "_bytes", json_integer(nl - p + 1));
                json_array_append_new(all, rec);
        }
        free(log);
        return all;
}

void audit_keep(const mc_audit_record *r, void *userdata) {
        audit_kept *k = userdata;

        if (k->n < AUDIT_KEPT_MAX)
                k->rec[k->n++] = json_loads(r->json, 0, NULL);
}

void audit_kept_free(audit_kept *k) {
        for (int i = 0; i < k->n; i++)
                json_decref(k->rec[i]);
        k->n = 0;
}
