/* SPDX-License-Identifier: MIT */
/*
 * allowed_paths with Windows paths (win/path-win.c), under Wine in `make test-windows`: drive
 * and UNC roots, both separators, case-insensitive names, and the paths that try to look
 * beneath a root without being there. Linux's matcher has its own suite (tests/unit).
 */

#include <stdio.h>
#include <string.h>
#include <windows.h>

#include <memcap/memcap.h>

#include "crit.h"

static mc_policy *with_roots(const char *a, const char *b) {
        mc_policy *p = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_policy_new(&p, &e), 0, "%s", e.message);
        cr_assert_eq(mc_policy_add_allowed_path(p, a, &e), 0, "%s: %s", a, e.message);
        if (b)
                cr_assert_eq(mc_policy_add_allowed_path(p, b, &e), 0, "%s: %s", b, e.message);
        return p;
}

/* The root @root is refused with a message containing @why. */
static void root_refused(const char *root, const char *why) {
        mc_policy *p = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_policy_new(&p, &e), 0, "%s", e.message);
        cr_assert_lt(mc_policy_add_allowed_path(p, root, &e), 0, "%s was accepted", root);
        cr_assert_eq(e.kind, MC_ERR_INVALID_ARGUMENT, "%s", e.message);
        cr_assert(strstr(e.message, why) != NULL, "%s: %s", root, e.message);
        mc_policy_free(p);
}

Test(paths_win, drive_root_admits_what_is_beneath_it) {
        mc_policy *p = with_roots("C:\\data", NULL);

        cr_assert(mc_policy_path_allowed(p, "C:\\data"));
        cr_assert(mc_policy_path_allowed(p, "C:\\data\\"));
        cr_assert(mc_policy_path_allowed(p, "C:\\data\\f.bin"));
        cr_assert(mc_policy_path_allowed(p, "C:\\data\\sub\\f.bin"));
        cr_assert(mc_policy_path_allowed(p, "C:/data/sub/f.bin"), "forward slashes");
        cr_assert(mc_policy_path_allowed(p, "C:\\data/sub\\\\.\\f.bin"), "mixed, doubled, '.'");
        cr_assert(!mc_policy_path_allowed(p, "C:\\"));
        cr_assert(!mc_policy_path_allowed(p, "C:\\dat"));
        cr_assert(!mc_policy_path_allowed(p, "C:\\data2"), "a prefix is not a parent");
        cr_assert(!mc_policy_path_allowed(p, "C:\\data2\\f"));
        cr_assert(!mc_policy_path_allowed(p, "C:\\data.bak\\f"));
        cr_assert(!mc_policy_path_allowed(p, "D:\\data\\f"), "another drive");
        cr_assert(!mc_policy_path_allowed(p, "C:\\secret"));
        mc_policy_free(p);
}

Test(paths_win, names_compare_case_insensitively) {
        /* "Ünïcode" in the root, upper and lower case in the paths: NTFS's comparison. */
        mc_policy *p = with_roots("c:/Data/\xc3\x9cn\xc3\xaf"
                                  "code",
                                  NULL);

        cr_assert(mc_policy_path_allowed(p, "C:\\DATA\\\xc3\x9cN\xc3\x8f"
                                            "CODE\\f"));
        cr_assert(mc_policy_path_allowed(p, "c:\\data\\\xc3\xbcn\xc3\xaf"
                                            "code\\F"));
        cr_assert(!mc_policy_path_allowed(p, "C:\\data\\unicode\\f"), "no accent folding");
        mc_policy_free(p);
}

Test(paths_win, verbatim_and_unc_forms_are_the_same_paths) {
        mc_policy *p = with_roots("C:\\data", "\\\\Server\\Share\\dir");

        cr_assert(mc_policy_path_allowed(p, "\\\\?\\C:\\data\\f"));
        cr_assert(mc_policy_path_allowed(p, "\\\\server\\share\\dir\\f"));
        cr_assert(mc_policy_path_allowed(p, "//SERVER/share/DIR/f"));
        cr_assert(mc_policy_path_allowed(p, "\\\\?\\UNC\\server\\share\\dir\\f"));
        cr_assert(!mc_policy_path_allowed(p, "\\\\server\\share\\f"), "above the root");
        cr_assert(!mc_policy_path_allowed(p, "\\\\server\\share2\\dir\\f"));
        cr_assert(!mc_policy_path_allowed(p, "\\\\other\\share\\dir\\f"));
        cr_assert(!mc_policy_path_allowed(p, "\\\\?\\C:\\data2\\f"));
        mc_policy_free(p);
}

Test(paths_win, hostile_paths_are_beneath_no_root) {
        mc_policy *p = with_roots("C:\\data", "\\\\server\\share");
        static const char *const hostile[] = {
                "C:\\data\\..\\secret",
                "C:/data/../secret",
                "C:\\data\\sub\\..\\..\\secret",
                "C:\\data\\.. \\secret", /* Win32 trims the space: ".." */
                "C:\\data\\...\\secret", /* dots only */
                "C:\\data\\ \\f",        /* a name Win32 trims to nothing */
                "\\\\?\\C:\\data\\..\\secret",
                "\\\\?\\C:\\data/../secret", /* verbatim: '/' is no separator */
                "\\\\?\\C:\\data\\.\\f",     /* verbatim: "." is not skipped */
                "\\\\server\\share\\..\\other\\f",
                "\\\\.\\C:\\data\\f", /* the device namespace */
                "//./C:/data/f",
                "\\\\?\\GLOBALROOT\\Device\\HarddiskVolume1\\data\\f",
                "\\\\?\\Volume{00000000-0000-0000-0000-000000000000}\\data\\f",
                "C:data\\f", /* drive-relative */
                "\\data\\f", /* rooted, no drive */
                "data\\f",
                "/data/f",
                "",
        };

        for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
                cr_assert(!mc_policy_path_allowed(p, hostile[i]), "%s was allowed", hostile[i]);
        cr_assert(!mc_policy_path_allowed(p, NULL));
        mc_policy_free(p);
}

Test(paths_win, any_path_admits_absolute_paths_only) {
        mc_policy *p = NULL;

        cr_assert_eq(mc_policy_new(&p, NULL), 0);
        cr_assert(mc_policy_path_allowed(p, "C:\\anything"));
        cr_assert(mc_policy_path_allowed(p, "\\\\server\\share\\x"));
        cr_assert(mc_policy_path_allowed(p, "\\\\?\\D:\\x"));
        cr_assert(!mc_policy_path_allowed(p, "x\\y"));
        cr_assert(!mc_policy_path_allowed(p, "C:x"));
        cr_assert(!mc_policy_path_allowed(p, "\\\\.\\PhysicalDrive0"));
        mc_policy_free(p);
}

Test(paths_win, roots_are_normalised_and_checked) {
        mc_policy *p = NULL;
        char *json = NULL;

        p = with_roots("c:/data//sub/./", "\\\\?\\UNC\\srv\\share\\");
        cr_assert_eq(mc_policy_to_json(p, &json, NULL), 0);
        cr_assert(strstr(json, "\"C:\\\\data\\\\sub\"") != NULL, "%s", json);
        cr_assert(strstr(json, "\"\\\\\\\\srv\\\\share\"") != NULL, "%s", json);
        free(json);
        mc_policy_free(p);

        p = with_roots("d:\\", NULL);
        cr_assert(mc_policy_path_allowed(p, "D:\\x\\y"));
        cr_assert(!mc_policy_path_allowed(p, "C:\\x"));
        mc_policy_free(p);

        root_refused("data", "a drive path");
        root_refused("C:data", "a drive path");
        root_refused("\\data", "a drive path");
        root_refused("/srv/data", "a drive path");
        root_refused("\\\\.\\C:\\data", "a drive path");
        root_refused("\\\\server", "a drive path");
        root_refused("\\\\server\\", "a drive path");
        root_refused("C:\\data\\..\\x", "'..'");
        root_refused("C:\\data\\.. ", "'..'");
        root_refused("\\\\..\\share", "'..'");
        root_refused("C:\\data.", "end with a dot or a space");
        root_refused("C:\\data \\x", "end with a dot or a space");
        root_refused("C:\\da*ta", "< > :");
        root_refused("C:\\data:stream", "< > :");
        root_refused("C:\\da\x01ta", "control characters");
}

Test(paths_win, policy_file_roots_are_windows_paths) {
        static const char good[] = "{\"allowed_paths\": [\"C:\\\\data\", \"c:/logs\"]}";
        static const char bad[] = "{\n  \"allowed_paths\": [\"C:\\\\data\", \"/srv/data\"]\n}";
        static const char want[] = "p.json:2:33: bad path \"/srv/data\" in \"allowed_paths\": a "
                                   "root must be an absolute path: a drive path";
        mc_policy *p = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_policy_load_string(good, strlen(good), "p.json", &p, &e), 0, "%s",
                     e.message);
        cr_assert(mc_policy_path_allowed(p, "C:\\Logs\\x.log"));
        cr_assert(!mc_policy_path_allowed(p, "C:\\logs2\\x.log"));
        mc_policy_free(p);
        p = NULL;
        cr_assert_lt(mc_policy_load_string(bad, strlen(bad), "p.json", &p, &e), 0);
        cr_assert(strncmp(e.message, want, strlen(want)) == 0, "%s", e.message);
        cr_assert_null(p);
}

/* The current directory, as a UTF-8 drive path. */
static void cwd(char *buf, size_t size) {
        wchar_t w[MAX_PATH];
        DWORD n = GetCurrentDirectoryW(MAX_PATH, w);

        cr_assert(n > 0 && n < MAX_PATH);
        cr_assert(WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, (int) size, NULL, NULL) > 0);
}

Test(paths_win, map_file_is_decided_by_the_resolved_path) {
        char dir[MAX_PATH * 3], root[MAX_PATH * 3 + 8], name[64];
        mc_policy *p = NULL;
        mc_ctx *ctx = NULL;
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        FILE *f;

        snprintf(name, sizeof(name), "paths-win-%lu.tmp", (unsigned long) GetCurrentProcessId());
        f = fopen(name, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite("0123456789", 1, 10, f), 10);
        fclose(f);
        cwd(dir, sizeof(dir));
        cr_assert_eq(mc_ctx_new(&ctx, &e), 0, "%s", e.message);

        /* The directory itself, in lower case with forward slashes: allowed. */
        for (char *s = dir; *s; s++)
                *s = *s == '\\' ? '/' : (*s >= 'A' && *s <= 'Z' ? (char) (*s + 32) : *s);
        p = with_roots(dir, NULL);
        cr_assert_eq(mc_ctx_set_policy(ctx, p, &e), 0, "%s", e.message);
        mc_policy_free(p);
        cr_assert_eq(mc_map_file(ctx, name, MC_PROT_READ, NULL, &m, &e), 0, "%s (root %s)",
                     e.message, dir);
        cr_assert_eq(((char *) m.ptr)[9], '9');
        cr_assert_eq(mc_unmap(ctx, &m, &e), 0, "%s", e.message);

        /* A sibling whose name starts like it: denied, and the message names the real path. */
        snprintf(root, sizeof(root), "%s2", dir);
        p = with_roots(root, NULL);
        cr_assert_eq(mc_ctx_set_policy(ctx, p, &e), 0, "%s", e.message);
        mc_policy_free(p);
        cr_assert_lt(mc_map_file(ctx, name, MC_PROT_READ, NULL, &m, &e), 0);
        cr_assert_eq(e.kind, MC_ERR_POLICY_VIOLATION, "%s", e.message);
        cr_assert(strstr(e.message, "allowed_paths") != NULL, "%s", e.message);
        cr_assert(strstr(e.message, name) != NULL, "%s", e.message);

        mc_ctx_free(ctx);
        remove(name);
}
