#!/usr/bin/env bash
# Run the device package on emulated arm64 Debian Bookworm (Python 3.11, as Raspberry Pi OS Bookworm)
# with each TFLite runtime, and check that it reads what it reads on x86-64.
#
#   sudo nice -n 10 scripts/check-arm64.sh [--workdir DIR] [--fresh] [--no-binfmt] [--envs "litert ..."]
#
# Steps: qemu-user-static (binfmt_misc when the kernel has it, else qemu-aarch64-static -L), a
# debootstrap first stage of arm64 Bookworm whose .debs are unpacked (no emulated second stage),
# aarch64 wheels installed with `pip install --platform ... --target` per environment, then
# scripts/arm64_probe.py inside the arm64 root for each environment. A script, not a CI test: it
# needs root, the network (Debian mirror, PyPI) and a few minutes. Reruns reuse the work folder.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORKDIR=/var/tmp/zmg-arm64
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PYVER=3.11
FRESH=0
USE_BINFMT=1
# name|expected runtime|pip requirements. numpy 1.24.2 is Bookworm's own python3-numpy, the one apt's
# picamera2 is built against and setup-pi.sh pins (so OpenCV < 4.12, the last for numpy 1.x);
# litert-numpy2 is the newest stack (as on Trixie, or anywhere without apt's picamera2).
ALL_ENVS=(
  "litert|ai-edge-litert|ai-edge-litert numpy==1.24.2 opencv-python-headless<4.12 tqdm"
  "tflite|tflite-runtime|tflite-runtime==2.14.0 numpy==1.24.2 opencv-python-headless<4.12 tqdm"
  "litert-numpy2|ai-edge-litert|ai-edge-litert numpy>=2 opencv-python-headless tqdm"
)
ENVS="litert tflite litert-numpy2"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
say() { printf '\n== %s\n' "$*"; }
die() { printf 'check-arm64: error: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --workdir) WORKDIR=${2:?--workdir needs a folder}; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --no-binfmt) USE_BINFMT=0; shift ;;
    --envs) ENVS=${2:?--envs needs names}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot): run it with sudo"
ROOTFS=$WORKDIR/rootfs-$SUITE-arm64
APP=/opt/zmg            # inside the arm64 root
START=$(date +%s)

say "$(date -u "+%Y-%m-%d %H:%M UTC"), host: $(uname -m), $(grep -m1 "^PRETTY_NAME=" /etc/os-release | cut -d= -f2 | tr -d '"'), repo $REPO"

# --- 1. tools ------------------------------------------------------------------------------------
missing=()
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v update-binfmts >/dev/null || missing+=(binfmt-support)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
# The host's own Python runs the x86-64 reference (it needs the device package's dependencies: the
# repo's .venv); a clean venv of its own runs pip, so that what the host has installed does not mix
# into the resolution of the arm64 wheels.
HOST_PY=$REPO/.venv/bin/python
[ -x "$HOST_PY" ] || HOST_PY=$(command -v python3)
PIP_VENV=$WORKDIR/pip-venv
echo "qemu: $(qemu-aarch64-static --version | head -n1)"

# binfmt_misc lets the kernel run arm64 programs (and chroot into an arm64 root) through qemu.
BINFMT=0
if [ $USE_BINFMT -eq 0 ]; then
  :
elif [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
fi
if [ $USE_BINFMT -eq 1 ] && [ -e /proc/sys/fs/binfmt_misc/status ]; then
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 2>/dev/null || true
  if grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then BINFMT=1; fi
fi
if [ $BINFMT -eq 1 ]; then
  echo "binfmt_misc: qemu-aarch64 registered ($(grep flags /proc/sys/fs/binfmt_misc/qemu-aarch64))"
else
  echo "binfmt_misc: not available here; running arm64 programs with qemu-aarch64-static -L"
fi

# --- 2. arm64 Debian root: debootstrap's first stage, then every downloaded .deb unpacked ----------
if [ $FRESH -eq 1 ]; then rm -rf "$WORKDIR"; fi
mkdir -p "$WORKDIR"
if [ ! -e "$ROOTFS/.unpacked" ]; then
  say "debootstrap --foreign --arch=arm64 $SUITE (first stage)"
  rm -rf "$ROOTFS"
  debootstrap --foreign --arch=arm64 --variant=minbase --include="python$PYVER" \
    "$SUITE" "$ROOTFS" "$MIRROR" | grep -E '^I: (Retrieving Release|Base system|Extracting python)' || true
  # The first stage only extracts the essential packages; python and its libraries were downloaded
  # but not unpacked. Unpacking them is enough to run python (no maintainer scripts are needed).
  count=0
  for deb in "$ROOTFS"/var/cache/apt/archives/*.deb; do
    dpkg-deb -x "$deb" "$ROOTFS"
    count=$((count + 1))
  done
  echo "unpacked $count .debs"
  touch "$ROOTFS/.unpacked"
else
  say "reusing $ROOTFS"
fi
cp /usr/bin/qemu-aarch64-static "$ROOTFS/usr/bin/"  # for binfmt registrations without the F flag
ln -sf "python$PYVER" "$ROOTFS/usr/bin/python3"

# XNNPACK's cpuinfo, reading an x86 host's CPU topology under emulation, crashes (ai-edge-litert
# segfaults). Empty CPU lists inside the root make it give up politely ("Error in cpuinfo: failed to
# parse ..."), with or without binfmt (qemu -L looks in the root first). A real Pi has its own /sys.
mkdir -p "$ROOTFS/sys/devices/system/cpu"
: >"$ROOTFS/sys/devices/system/cpu/possible"
: >"$ROOTFS/sys/devices/system/cpu/present"

run_arm64() {
  # Run the arm64 python with a clean environment (the host's OPENBLAS_* settings are x86 ones).
  local env_vars=(PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 "PYTHONPATH=$1")
  shift
  if [ $BINFMT -eq 1 ]; then
    chroot "$ROOTFS" /usr/bin/env -i "${env_vars[@]}" "/usr/bin/python$PYVER" "$@"
  else
    env -i "${env_vars[@]}" qemu-aarch64-static -L "$ROOTFS" "$ROOTFS/usr/bin/python$PYVER" "$@"
  fi
}
echo "arm64 python: $(run_arm64 "" -c 'import platform, sys; print(platform.machine(), sys.version.split()[0])')"

# --- 3. aarch64 wheels per environment ------------------------------------------------------------
if [ ! -x "$PIP_VENV/bin/pip" ]; then
  python3 -m venv "$PIP_VENV" || die "cannot make a venv for pip (apt-get install python3-venv)"
fi
PLATFORMS=(--platform manylinux2014_aarch64)
for glibc in 17 24 26 27 28 31 34 35 36; do PLATFORMS+=(--platform "manylinux_2_${glibc}_aarch64"); done
for name in $ENVS; do
  spec=""
  for entry in "${ALL_ENVS[@]}"; do [ "${entry%%|*}" = "$name" ] && spec=$entry; done
  [ -n "$spec" ] || die "unknown environment $name (known: litert tflite litert-numpy2)"
  requirements=${spec##*|}
  site=$ROOTFS$APP/site-$name
  if [ "$(cat "$site/.requirements" 2>/dev/null)" != "$requirements" ]; then
    say "wheels for $name: $requirements"
    rm -rf "$site"
    # shellcheck disable=SC2086  # the requirement list is meant to split into words
    "$PIP_VENV/bin/pip" install -qq --disable-pip-version-check --no-compile --target "$site" \
      "${PLATFORMS[@]}" --implementation cp --python-version "$PYVER" --abi "cp${PYVER/./}" \
      --only-binary=:all: $requirements
    echo "$requirements" >"$site/.requirements"
  fi
done

# --- 4. the repository's device code, fresh each run ------------------------------------------------
say "copying device/, tests/data/ and scripts/arm64_probe.py into the arm64 root"
rm -rf "$ROOTFS$APP/repo"
mkdir -p "$ROOTFS$APP/repo/tests" "$ROOTFS$APP/repo/scripts"
tar -C "$REPO" --exclude=__pycache__ -cf - device | tar -C "$ROOTFS$APP/repo" -xf -
cp -r "$REPO/tests/data" "$ROOTFS$APP/repo/tests/"
cp "$REPO/scripts/arm64_probe.py" "$ROOTFS$APP/repo/scripts/"

# --- 5. probe: x86-64 reference first, then each arm64 environment --------------------------------
REFERENCE=$ROOTFS$APP/reference.json
reference_args=(--reference "$APP/reference.json")
say "reference on the host ($(uname -m), $HOST_PY)"
if ! "$HOST_PY" "$REPO/scripts/arm64_probe.py" --repo "$REPO" --write "$REFERENCE"; then
  echo "no x86-64 reference (set up the repo's .venv to get one): arm64 results are checked on their own"
  reference_args=()
fi

failed=()
for name in $ENVS; do
  for entry in "${ALL_ENVS[@]}"; do [ "${entry%%|*}" = "$name" ] && spec=$entry; done
  runtime=$(echo "$spec" | cut -d'|' -f2)
  say "arm64 $SUITE, environment $name"
  if ! run_arm64 "$APP/site-$name" "$APP/repo/scripts/arm64_probe.py" --repo "$APP/repo" \
      --expect-runtime "$runtime" "${reference_args[@]}"; then
    failed+=("$name")
  fi
done

say "summary ($(($(date +%s) - START)) s)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all environments ok: $ENVS"
