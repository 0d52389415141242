/* SPDX-License-Identifier: MIT */
#pragma once

/* memcap channel stat|send|recv (cmd-channel.c). */
int cmd_channel(int argc, char **argv);
