#!/usr/bin/env bash
# spec/install/run.sh BUILD_DIR SOURCE_DIR -- installs the build into a temporary prefix, then
# builds spec/install/consumer against it twice (CMake find_package, and pkg-config + cc) and runs
# both, with the installed Lua library (the build tree's is not on any path they use).
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/dagl.h include/dagl_lua.h bin/dagl lib/pkgconfig/dagl.pc lib/cmake/dagl/daglConfig.cmake \
         share/lua/5.4/dagl/init.lua; do
  [[ -e $tmp/prefix/$f || -e $tmp/prefix/${f/lib\//lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)/} ]] ||
    { echo "install: $f is missing"; exit 1; }
done
libdir=$(dirname "$(find "$tmp/prefix" -name 'libdagl_lua.so' | head -1)")
export DAGL_LUA_PATH=$tmp/prefix/share/lua/5.4 LD_LIBRARY_PATH=$libdir

cmake -S "$src/spec/install/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
echo "find_package: $("$tmp/cm/consumer")"

export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046
cc -o "$tmp/pc" "$src/spec/install/consumer/main.c" $(pkg-config --cflags --libs dagl-lua)
echo "pkg-config: $("$tmp/pc")"
"$tmp/prefix/bin/dagl" -e 'print("installed host: " .. require("dagl").version())'
