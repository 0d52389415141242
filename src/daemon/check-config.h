/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Check the configuration file @path and the policy it names (@policy, from --policy, over it;
 * may be NULL) as a start would read them, printing the verdict on standard error as
 * "memcapd: ..." lines. Returns the exit status: 0, or 10 + the kind of the first error.
 */
int mcd_check_config(const char *path, const char *policy);
