#!/usr/bin/env bash
# Build the Debian packages (make deb): copy the tree (what git tracks, and new files it does not
# ignore) to build/deb/memcap-VERSION, install what debian/control says the build needs, and run
# dpkg-buildpackage -us -uc -b there, so that its outputs land in build/deb/ and nothing is
# written beside the source tree. The version is meson.build's; debian/changelog must agree.
# Usage: tools/build-deb.sh   (DEB_BUILD_OPTIONS passes through, e.g. nocheck)
set -eu
cd "$(dirname "$0")/.."

version=$(sed -n "s/^  version: '\([^']*\)',$/\1/p" meson.build | head -1)
changelog=$(dpkg-parsechangelog -S Version 2>/dev/null || sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
if [ "$version" != "$changelog" ]; then
        echo "build-deb: meson.build says $version but debian/changelog $changelog" >&2
        exit 1
fi

tools/install-deps.sh deb
out=build/deb
src=$out/memcap-$version
rm -rf "$out"
mkdir -p "$src"
# Files deleted but not yet committed are still listed by git: copy what exists.
git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
                if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
        done | xargs -0 -I{} cp --parents -P {} "$src"/

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
# Only what is missing is installed; build-dep reads the copied debian/control.
if ! (cd "$src" && dpkg-checkbuilddeps >/dev/null 2>&1); then
        $sudo apt-get update -qq
        $sudo apt-get build-dep -y -qq --no-install-recommends "./$src" >/dev/null
fi
(cd "$src" && dpkg-buildpackage -us -uc -b)
ls -l "$out"/*.deb
