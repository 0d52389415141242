#!/usr/bin/env python3
"""Write the first ```c block of a Markdown file to a .c file, so the build compiles it."""
import sys

src, dst = sys.argv[1], sys.argv[2]
lines, inside, found = [], False, False
with open(src, encoding="utf-8") as f:
    for line in f:
        if not inside and line.rstrip() == "```c" and not found:
            inside = True
            continue
        if inside and line.rstrip() == "```":
            inside, found = False, True
            continue
        if inside:
            lines.append(line)
if not found:
    sys.exit(f"{src}: no ```c block")
with open(dst, "w", encoding="utf-8") as f:
    f.write("/* Generated from README.md: the tour's code block, compiled as is. */\n")
    f.writelines(lines)
