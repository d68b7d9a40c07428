#!/usr/bin/env bash
# Builds pjproject 2.15.1 with relais' limits (scripts/pjproject/config_site.h: 512 calls per
# process, epoll, no sound device, no video) and its patches (scripts/pjproject/patches), and
# installs its pjsua2 Python module into the virtualenv in place of the stock `pjsua2-python`
# wheel (4 calls per process).
#
# Source, first found: $RELAIS_PJPROJECT_TARBALL; the download cache
# ($RELAIS_PJPROJECT_CACHE, default ~/.cache/relais); the GitHub release archive of tag 2.15.1
# (saved into the cache). The sha256 of the uncompressed tar stream is always checked.
#
# The relais tap (switch/tap.c: a bridge port that listens to a call in pjmedia's clock thread) is
# compiled against the same headers, linked to libspandsp.so.2, and packed beside the module.
#
# Idempotent: a stamp keyed by the source checksum, config_site.h, the configure flags, the tap
# and this script skips everything when the installed module is already this build. A wrong checksum or a
# failed step stops with a message and a non-zero exit; where no source can be had at all, the
# stock wheel stays (said loudly: each worker then holds 4 calls) and the script exits 0.
#
# Usage: scripts/build-pjproject.sh [VENV]       (default .venv)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${1:-$ROOT/.venv}
PY=$VENV/bin/python
PJ_VERSION=2.15.1
DIST_VERSION=2.15.1.post1
SHA256=f55f97a5500117384bafd66d7dc02bbadcad023df0e4f375a90bdac50ce847c3
URL=${RELAIS_PJPROJECT_URL:-https://github.com/pjsip/pjproject/archive/refs/tags/$PJ_VERSION.tar.gz}
CACHE=${RELAIS_PJPROJECT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/relais}
BUILD=${RELAIS_PJPROJECT_BUILD:-$ROOT/build/pjproject}
CONFIG=$ROOT/scripts/pjproject/config_site.h
PATCHES=$ROOT/scripts/pjproject/patches
PACK=$ROOT/scripts/pjproject/pack_wheel.py
TAP=$ROOT/switch/tap.c
CONFIGURE_FLAGS=(
  --disable-shared --enable-epoll --disable-sound --disable-video --disable-libyuv
  --disable-libwebrtc --disable-v4l2 --disable-openh264 --disable-ffmpeg --disable-sdl
)
OPT_FLAGS="-O2 -fPIC -DNDEBUG"  # a release build, as the stock wheel: pjlib asserts abort the process
JOBS=$(nproc 2>/dev/null || echo 2)

say() { printf '[pjproject] %s\n' "$*"; }
die() { printf '[pjproject] error: %s\n' "$*" >&2; exit 1; }

[ -x "$PY" ] || die "no Python in $VENV (create the virtualenv first: make install)"
VENV=$(cd "$VENV" && pwd)  # absolute: the SWIG step runs in another folder
PY=$VENV/bin/python
MAX_CALLS=$(awk '$2 == "PJSUA_MAX_CALLS" {print $3}' "$CONFIG")
[[ "$MAX_CALLS" =~ ^[0-9]+$ ]] || die "PJSUA_MAX_CALLS not found in $CONFIG"
VERSION="$DIST_VERSION+relais.calls$MAX_CALLS"
# What the compiled module depends on, and what the installed package depends on.
BUILD_KEY=$( { echo "$SHA256 ${CONFIGURE_FLAGS[*]} $OPT_FLAGS build-1"; cat "$CONFIG";
               cat "$PATCHES"/*.patch; "$PY" -c 'import sys; print(sys.version)'; } \
             | sha256sum | cut -c1-16)
KEY=$( { echo "$BUILD_KEY"; cat "$PACK" "$TAP"; } | sha256sum | cut -c1-16)
STAMP=$VENV/.pjproject-$KEY
BUILT=$BUILD/.built-$BUILD_KEY

installed() {
  "$PY" -c 'import importlib.metadata as m; print(m.version("pjsua2-python"))' 2>/dev/null || true
}

if [ -f "$STAMP" ] && [ "$(installed)" = "$VERSION" ]; then
  say "up to date: pjsua2-python $VERSION ($MAX_CALLS calls per worker)"
  exit 0
fi

stock_fallback() {
  local have
  have=$(installed)
  case "$have" in
    *+relais*)  # an earlier build of relais' own stays: pip would keep it anyway (same pin)
      cat >&2 <<EOF
[pjproject] ************************************************************************
[pjproject] WARNING: $1
[pjproject] The relais build installed before stays: pjsua2-python $have.
[pjproject] It was built from other patches or settings than this checkout has. Set
[pjproject] RELAIS_PJPROJECT_TARBALL to pjproject-$PJ_VERSION.tar.gz
[pjproject] (sha256 of the uncompressed stream $SHA256)
[pjproject] and run 'make install' again to rebuild it.
[pjproject] ************************************************************************
EOF
      exit 0
      ;;
  esac
  cat >&2 <<EOF
[pjproject] ************************************************************************
[pjproject] WARNING: $1
[pjproject] relais keeps the stock pjsua2-python wheel: EACH SWITCH WORKER THEN HOLDS
[pjproject] ONLY 4 CALLS. Set RELAIS_PJPROJECT_TARBALL to pjproject-$PJ_VERSION.tar.gz
[pjproject] (sha256 of the uncompressed stream $SHA256)
[pjproject] and run 'make install' again for $MAX_CALLS calls per worker.
[pjproject] ************************************************************************
EOF
  "$VENV/bin/pip" install -q "pjsua2-python==$DIST_VERSION" || die "cannot install the stock wheel either"
  exit 0
}

if [ -f "$BUILT" ] && [ -d "$(cat "$BUILT")" ]; then
  LIB=$(cat "$BUILT")
  say "already built for this source and config ($LIB); installing it"
else
# 1. Find and check the source --------------------------------------------------------------
  checksum() { gzip -dc "$1" 2>/dev/null | sha256sum | cut -d' ' -f1; }

  TARBALL=""
  if [ -n "${RELAIS_PJPROJECT_TARBALL:-}" ]; then
    if [ -f "$RELAIS_PJPROJECT_TARBALL" ]; then
      TARBALL=$RELAIS_PJPROJECT_TARBALL
    else
      say "RELAIS_PJPROJECT_TARBALL=$RELAIS_PJPROJECT_TARBALL does not exist; trying the cache"
    fi
  fi
  if [ -z "$TARBALL" ] && [ -f "$CACHE/pjproject-$PJ_VERSION.tar.gz" ]; then
    TARBALL=$CACHE/pjproject-$PJ_VERSION.tar.gz
  fi
  if [ -z "$TARBALL" ]; then
    say "downloading $URL"
    mkdir -p "$CACHE"
    if curl -fsSL --connect-timeout 10 --max-time 300 -o "$CACHE/pjproject-$PJ_VERSION.tar.gz.part" "$URL"; then
      mv "$CACHE/pjproject-$PJ_VERSION.tar.gz.part" "$CACHE/pjproject-$PJ_VERSION.tar.gz"
      TARBALL=$CACHE/pjproject-$PJ_VERSION.tar.gz
    else
      rm -f "$CACHE/pjproject-$PJ_VERSION.tar.gz.part"
      stock_fallback "no pjproject $PJ_VERSION source: no tarball given, none cached, download failed."
    fi
  fi
  say "source $TARBALL"
  got=$(checksum "$TARBALL")
  [ "$got" = "$SHA256" ] || die "checksum mismatch for $TARBALL: the uncompressed tar stream has sha256 $got, expected $SHA256 (a different or damaged archive; remove it and try again)"

  # 2. Build --------------------------------------------------------------------------------------
  LOG=$BUILD/build.log
  SRC=$BUILD/pjproject-$PJ_VERSION
  rm -rf "$BUILD"
  mkdir -p "$BUILD"
  : > "$LOG"
  step() {  # step NAME COMMAND...: runs COMMAND with its output in the log, a heartbeat meanwhile
    local name=$1 started=$SECONDS pid rc
    shift
    say "$name"
    ( "$@" ) >>"$LOG" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      sleep 15
      kill -0 "$pid" 2>/dev/null && say "  ... $name: $((SECONDS - started)) s, $(grep -c ' -c \| -o ' "$LOG" || true) compiler runs so far"
    done
    if wait "$pid"; then rc=0; else rc=$?; fi
    if [ "$rc" -ne 0 ]; then
      tail -n 30 "$LOG" >&2
      die "$name failed (exit $rc); the whole output is in $LOG"
    fi
  }

  say "building pjproject $PJ_VERSION for $MAX_CALLS calls per process ($JOBS jobs, about 3 minutes on 2 cores; log $LOG)"
  step "unpack" tar -xzf "$TARBALL" -C "$BUILD"
  [ -d "$SRC" ] || die "the archive has no pjproject-$PJ_VERSION/ folder"
  cp "$CONFIG" "$SRC/pjlib/include/pj/config_site.h"
  for p in "$PATCHES"/*.patch; do  # relais' own changes, each explained at its top
    say "patch $(basename "$p")"
    patch -d "$SRC" -p1 --forward --quiet < "$p" || die "patch $p does not apply"
  done
  step "configure" env -C "$SRC" CFLAGS="$OPT_FLAGS" CXXFLAGS="$OPT_FLAGS" ./configure "${CONFIGURE_FLAGS[@]}"
  step "make dep" make -C "$SRC" dep
  step "compile libraries" make -C "$SRC" -j"$JOBS"
  step "SWIG Python module (the wrapper compiles on one core for about 1.5 minutes)" \
    make -C "$SRC/pjsip-apps/src/swig/python" PYTHON_EXE="$PY"
  LIB=$(find "$SRC/pjsip-apps/src/swig/python/build" -name '_pjsua2*.so' -printf '%h\n' | head -n 1)
  [ -n "$LIB" ] || die "the SWIG build made no _pjsua2 module; see $LOG"
  strip --strip-unneeded "$LIB"/_pjsua2*.so
  cp "$SRC/pjsip-apps/src/swig/python/pjsua2.py" "$LIB/pjsua2.py" 2>/dev/null || true
  echo "$LIB" > "$BUILT"
fi

# 3. The tap, then install ----------------------------------------------------------------------
SRC=$BUILD/pjproject-$PJ_VERSION
[ -d "$SRC/pjmedia/include" ] || die "no pjproject headers in $SRC for the tap"
say "compiling the relais tap ($TAP)"
cc -O2 -fPIC -shared -Wall -Werror -DNDEBUG -DPJ_AUTOCONF=1 -DPJ_IS_BIG_ENDIAN=0 \
  -DPJ_IS_LITTLE_ENDIAN=1 -I"$SRC/pjlib/include" -I"$SRC/pjlib-util/include" \
  -I"$SRC/pjmedia/include" -I"$SRC/pjnath/include" "$TAP" -o "$LIB/librelais_tap.so" \
  -l:libspandsp.so.2 -lm -lpthread \
  || die "the tap does not compile (needs libspandsp2; scripts/install-system-deps.sh)"
WHEEL=$("$PY" "$PACK" "$LIB" "$BUILD/dist" "$VERSION" "$CONFIG") || die "packing the wheel failed"
"$VENV/bin/pip" install -q --no-deps --force-reinstall "$WHEEL" || die "installing $WHEEL failed"
"$PY" -c 'import pjsua2 as pj; assert pj.MAX_CALLS > 4; pj.Endpoint' \
  || die "the installed pjsua2 does not import"
(cd "$ROOT" && "$PY" -c 'from switch import tap; assert tap.library() is not None') \
  || die "the installed tap does not load"
rm -f "$VENV"/.pjproject-*
touch "$STAMP"
say "installed pjsua2-python $VERSION: $MAX_CALLS calls per worker"
