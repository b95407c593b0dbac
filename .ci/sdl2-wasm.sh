#!/usr/bin/env bash
# Build SDL2 for WebAssembly from Debian's own libsdl2 source package.
# Emscripten's -sUSE_SDL=2 port downloads from GitHub at build time, which is
# not reachable here, so we compile the same SDL2 version Debian ships natively.
# Result (cached; built once per machine):
#   $D/sdl2-wasm/libSDL2.a, $D/sdl2-wasm/include, $D/sdl2-wasm/include-config-minsizerel
set -euo pipefail
D="${1:-build/sdl2}"
D="$(mkdir -p "$D" && cd "$D" && pwd)"
# Only what the page uses: video and events on the canvas, drawn through the
# window surface. SDL_LEAN_AND_MEAN drops the many pixel-format blitters; with
# the unused subsystems and the dummy and offscreen video drivers off, and -Oz,
# SDL is about 40% of the page's wasm code. HAVE_STRTOD/HAVE_ATOF off: SDL parses
# its float hints with its own small scanner, and libc's strtod, with 128-bit
# long double arithmetic behind it, stays out (6 KB gzipped). A change to these
# flags rebuilds it.
FLAGS=(-DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_C_FLAGS="-DSDL_LEAN_AND_MEAN=1" -DCMAKE_C_FLAGS_MINSIZEREL="-Oz -DNDEBUG"
    -DSDL_SHARED=OFF -DSDL_STATIC=ON -DSDL_TEST=OFF -DSDL_AUDIO=OFF -DSDL_JOYSTICK=OFF
    -DSDL_HAPTIC=OFF -DSDL_HIDAPI=OFF -DSDL_POWER=OFF -DSDL_SENSOR=OFF -DSDL_LOCALE=OFF
    -DSDL_MISC=OFF -DSDL_FILESYSTEM=OFF -DSDL_LOADSO=OFF -DSDL_OPENGL=OFF -DSDL_OPENGLES=OFF
    -DSDL_THREADS=OFF -DSDL_RENDER=OFF -DSDL_DUMMYVIDEO=OFF -DSDL_OFFSCREEN=OFF -DHAVE_STRTOD=0 -DHAVE_ATOF=0)
if [ -f "$D/sdl2-wasm/libSDL2.a" ] && [ "$(cat "$D/sdl2-wasm/flags.txt" 2>/dev/null)" = "${FLAGS[*]}" ]; then
  touch "$D/sdl2-wasm/libSDL2.a"
  exit 0
fi
export NODE_PATH=/usr/share/nodejs

if ! ls "$D"/libsdl2_*.orig.tar.gz >/dev/null 2>&1; then
  # A private apt source list, so the system's lists stay untouched.
  mkdir -p "$D/apt/lists/partial" "$D/apt/sources"
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$D/apt/sources/src.sources"
  A="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$D/apt/sources -o Dir::State::Lists=$D/apt/lists"
  apt-get $A update -q
  (cd "$D" && apt-get $A source --download-only libsdl2)
fi
rm -rf "$D/src" && mkdir -p "$D/src"
tar xzf "$D"/libsdl2_*.orig.tar.gz -C "$D/src"
S="$(ls -d "$D"/src/SDL2-*)"
rm -rf "$D/sdl2-wasm.tmp"
emcmake cmake -S "$S" -B "$D/sdl2-wasm.tmp" "${FLAGS[@]}" >"$D/cmake.log" 2>&1 \
  || { tail -30 "$D/cmake.log"; exit 1; }
emmake make -C "$D/sdl2-wasm.tmp" -j"$(nproc)" >"$D/make.log" 2>&1 \
  || { tail -30 "$D/make.log"; exit 1; }
echo "${FLAGS[*]}" > "$D/sdl2-wasm.tmp/flags.txt"
rm -rf "$D/sdl2-wasm" && mv "$D/sdl2-wasm.tmp" "$D/sdl2-wasm"
echo "SDL2 for wasm: $D/sdl2-wasm/libSDL2.a"
