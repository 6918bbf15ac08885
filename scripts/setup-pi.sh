#!/usr/bin/env bash
# Set up this repository on a Raspberry Pi (Raspberry Pi OS Bookworm or Trixie; 64-bit recommended):
# apt packages, a virtual environment that sees apt's picamera2, the device package, camera checks,
# and a systemd service that runs `device live --headless` at boot and restarts it on failure.
# Run it as your normal user from the repository (it uses sudo where it must). Safe to run again:
# every step checks first, and a second run changes nothing.
#
#   scripts/setup-pi.sh [--venv DIR] [--serve [HOST:]PORT] [--no-auth] [--output FILE] [--source SPEC]
#                       [--model FILE] [--user NAME] [--no-service] [--no-apt]
#
#   --serve 0.0.0.0:8000   the service also streams to browsers on your network (default: no web view),
#                          with a token kept in /etc/zmg-digits/web.env (made once; the link is printed)
#   --no-auth              no token for the web view: anyone on the network sees the camera
#   --output FILE          the service appends each stable reading to FILE as a JSON line
#   --source usb:0         a USB camera instead of the Raspberry Pi camera
#   --no-service           install and check only; no systemd unit
#   --no-apt               skip the apt step (packages installed some other way)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$REPO/.venv
PYTHON=/usr/bin/python3   # apt's Python: the one python3-picamera2 is built for
SERVICE=digits-live
UNIT_TEMPLATE=$REPO/scripts/$SERVICE.service
UNIT_PATH=${SETUP_PI_UNIT_PATH:-/etc/systemd/system/$SERVICE.service}  # override: tests only
SERVE="" OUTPUT="" SOURCE="" MODEL="" SERVICE_USER="" WITH_SERVICE=1 WITH_APT=1 NO_AUTH=0
TOKEN_FILE=${SETUP_PI_TOKEN_FILE:-/etc/zmg-digits/web.env}  # override: tests only
CHANGED=0

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
changed() { printf '    changed: %s\n' "$*"; CHANGED=1; }
warn() { printf '    WARNING: %s\n' "$*" >&2; }
die() { printf 'setup-pi: error: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --venv) VENV=$(realpath -m "${2:?--venv needs a folder}"); shift 2 ;;
    --serve) SERVE=${2:?--serve needs [HOST:]PORT}; shift 2 ;;
    --output) OUTPUT=$(realpath -m "${2:?--output needs a file}"); shift 2 ;;
    --source) SOURCE=${2:?--source needs picamera, usb:N or a file}; shift 2 ;;
    --model) MODEL=$(realpath -m "${2:?--model needs a .tflite file}"); shift 2 ;;
    --user) SERVICE_USER=${2:?--user needs a name}; shift 2 ;;
    --no-auth) NO_AUTH=1; shift ;;
    --no-service) WITH_SERVICE=0; shift ;;
    --no-apt) WITH_APT=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

# A venv made by root inside the user's checkout would be root's: run as the user who called sudo.
if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  echo "setup-pi: running as $SUDO_USER (the venv belongs to you, not root); sudo is used where needed"
  exec sudo -u "$SUDO_USER" -H -- "$0" "$@"
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
SERVICE_USER=${SERVICE_USER:-$(id -un)}

# --- 1. this system --------------------------------------------------------------------------------
step "checking the system"
# shellcheck disable=SC1091  # the OS's own description
. /etc/os-release
PI_MODEL=""
[ ! -r /proc/device-tree/model ] || PI_MODEL=$(tr -d '\0' </proc/device-tree/model)
ON_PI=0
case $PI_MODEL in *"Raspberry Pi"*) ON_PI=1 ;; esac
[ -x "$PYTHON" ] || die "$PYTHON not found: this script is for Raspberry Pi OS / Debian"
PY_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "Python $PY_VERSION is too old (3.11+ needed): use Raspberry Pi OS Bookworm or newer"
echo "    ${PRETTY_NAME:-unknown OS}, $(uname -m), Python $PY_VERSION${PI_MODEL:+, $PI_MODEL}"
case $(uname -m) in
  aarch64) ;;
  armv7l|armv6l)
    warn "32-bit OS: tflite-runtime is used instead of ai-edge-litert; the 64-bit OS is faster"
    [ "$PY_VERSION" = 3.11 ] ||
      die "32-bit with Python $PY_VERSION: tflite-runtime has no wheels for it; use the 64-bit OS" ;;
  *) [ $ON_PI -eq 1 ] || echo "    not a Raspberry Pi: fine for USB cameras, videos and images (--source)" ;;
esac
case ${VERSION_CODENAME:-} in
  bookworm|trixie) ;;
  *) warn "tested on Bookworm and Trixie, this is '${VERSION_CODENAME:-unknown}'" ;;
esac
case "$REPO$VENV$OUTPUT$MODEL" in
  *[[:space:]]*) die "paths with spaces are not supported (the systemd unit could not quote them)" ;;
esac

# --- 2. apt packages ---------------------------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'; }

if [ $WITH_APT -eq 1 ]; then
  step "apt packages"
  wanted=(python3-venv)
  if [ $ON_PI -eq 1 ]; then
    # picamera2 needs libcamera's Python bindings, which pip cannot build: apt's package it is.
    wanted+=(python3-picamera2)
    if ! command -v rpicam-hello >/dev/null && ! command -v libcamera-hello >/dev/null; then
      wanted+=(rpicam-apps-lite)  # rpicam-hello --list-cameras, for the camera check
    fi
  fi
  missing=()
  for pkg in "${wanted[@]}"; do installed "$pkg" || missing+=("$pkg"); done
  if [ ${#missing[@]} -eq 0 ]; then
    ok "${wanted[*]} already installed"
  else
    $SUDO apt-get update -q
    # Older Bookworm images call the camera tools libcamera-apps-lite.
    if [[ " ${missing[*]} " == *" rpicam-apps-lite "* ]] && ! candidate rpicam-apps-lite; then
      missing=("${missing[@]/rpicam-apps-lite/libcamera-apps-lite}")
    fi
    # --no-install-recommends keeps a Lite image free of the desktop preview libraries.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    changed "installed ${missing[*]}"
  fi
else
  step "apt packages: skipped (--no-apt)"
fi

# --- 3. virtual environment that also sees apt's packages (picamera2, libcamera, numpy) ------------
step "virtual environment $VENV"
if [ -x "$VENV/bin/python" ]; then
  grep -Eqs '^include-system-site-packages *= *true' "$VENV/pyvenv.cfg" ||
    die "$VENV exists without --system-site-packages, so it cannot see apt's picamera2: remove it (rm -rf $VENV) and run this again"
  venv_version=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$venv_version" = "$PY_VERSION" ] ||
    die "$VENV uses Python $venv_version, the system has $PY_VERSION (OS upgrade?): remove it (rm -rf $VENV) and run this again"
  ok "exists, sees the system's packages"
else
  "$PYTHON" -m venv --system-site-packages "$VENV"
  changed "created with --system-site-packages"
fi

# --- 4. constraints: never replace apt's numpy, which picamera2 (simplejpeg, libcamera) is built against
step "pip constraints"
CONSTRAINTS=$VENV/zmg-constraints.txt
system_numpy=$("$PYTHON" -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)
draft=$(mktemp)  # drafted outside the venv, so an unchanged venv is not touched at all
trap 'rm -f "$draft"' EXIT
{
  echo "# Written by scripts/setup-pi.sh: keep apt's numpy, which apt's picamera2 is built against."
  if [ -n "$system_numpy" ]; then
    echo "numpy==$system_numpy"
    # OpenCV 4.12 and later need numpy 2.
    case $system_numpy in 1.*) echo "opencv-python-headless<4.12" ;; esac
  fi
} >"$draft"
pins=$(grep -v '^#' "$draft" | tr '\n' ' ')
pins=${pins:-"none (no numpy from apt to keep)"}
if cmp -s "$draft" "$CONSTRAINTS"; then
  ok "$pins"
else
  install -m 644 "$draft" "$CONSTRAINTS"
  changed "$pins"
fi

# --- 5. the device package ----------------------------------------------------------------------------
step "device package (pip install -e \".[device]\")"
STAMP=$VENV/.zmg-install-stamp
want_stamp=$(cat "$REPO/pyproject.toml" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)
imports_ok() {
  "$VENV/bin/python" -c 'import cv2, numpy, device.cli; from device.recognition.runtime import load_interpreter_class as f; f()' \
    >/dev/null 2>&1
}
if [ "$(cat "$STAMP" 2>/dev/null)" = "$want_stamp" ] && imports_ok; then
  ok "installed and up to date"
else
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$CONSTRAINTS" -e "${REPO}[device]"
  imports_ok || die "the device package does not import after installing: run $VENV/bin/device --help to see why"
  echo "$want_stamp" >"$STAMP"
  changed "installed"
fi
"$VENV/bin/python" - <<'EOF'
import cv2, numpy
from device.recognition.runtime import load_interpreter_class
_, runtime = load_interpreter_class()
print(f"    numpy {numpy.__version__} ({numpy.__file__.rsplit('/numpy/', 1)[0]}), OpenCV {cv2.__version__}, runtime {runtime}")
EOF

# --- 6. camera ---------------------------------------------------------------------------------------
step "camera"
if [ $ON_PI -eq 1 ]; then
  if picam_error=$("$VENV/bin/python" -c 'import picamera2' 2>&1); then
    ok "picamera2 imports in the venv"
  else
    warn "picamera2 does not import: $(echo "$picam_error" | tail -n1)"
    warn "fix: sudo apt install python3-picamera2 (and keep numpy from apt: rerun this script)"
  fi
  lister=$(command -v rpicam-hello || command -v libcamera-hello || true)
  if [ -z "$lister" ]; then
    warn "no rpicam-hello/libcamera-hello to list cameras (sudo apt install rpicam-apps-lite)"
  elif cameras=$(timeout 30 "$lister" --list-cameras 2>&1) && grep -q 'Available cameras' <<<"$cameras"; then
    ok "$(grep -m1 -E '^[0-9]+ :' <<<"$cameras" || echo 'a camera is connected')"
  else
    warn "$(basename "$lister") --list-cameras finds no camera. Check, in this order:"
    warn "  1. power off, then seat the ribbon cable: contacts towards the board's contacts, latch closed"
    warn "  2. /boot/firmware/config.txt has camera_auto_detect=1 (or the sensor's dtoverlay, e.g."
    warn "     dtoverlay=imx708 for Camera Module 3 with camera_auto_detect=0), then reboot"
    warn "  3. a Pi 5 has two camera ports (CAM0/CAM1) and needs the narrower 22-pin cable"
    warn "  4. test again: $(basename "$lister") --list-cameras"
  fi
  id -nG "$SERVICE_USER" | grep -qw video || warn "$SERVICE_USER is not in the video group: sudo usermod -aG video $SERVICE_USER"
else
  ok "not a Raspberry Pi: skipped (use --source usb:N, a video or images)"
fi

# --- 7. self-test on a bundled sample -------------------------------------------------------------
step "self-test: device read on a bundled sample"
sample_line=$(sed -n '2p' "$REPO/device/samples/labels.csv" 2>/dev/null || true)
if [ -n "$sample_line" ]; then
  sample=${sample_line%%,*} expected=${sample_line#*,}
  got=$("$VENV/bin/device" read "$REPO/device/samples/$sample" 2>/dev/null | sed 's/^[^:]*: //' || true)
  if [ "$got" = "$expected" ]; then ok "$sample reads $got"; else warn "$sample read '$got', expected '$expected'"; fi
else
  warn "no device/samples/labels.csv: skipped"
fi

# --- 8. systemd service ------------------------------------------------------------------------------
args=""
[ -z "$SOURCE" ] || args+=" --source $SOURCE"
[ -z "$MODEL" ] || args+=" --model $MODEL"
[ -z "$SERVE" ] || args+=" --serve $SERVE"
[ $NO_AUTH -eq 0 ] || args+=" --no-auth"
[ -z "$OUTPUT" ] || args+=" --output jsonl:$OUTPUT"
if [ $WITH_SERVICE -eq 0 ]; then
  step "systemd service: skipped (--no-service)"
elif [ ! -d /run/systemd/system ] && [ -z "${SETUP_PI_UNIT_PATH:-}" ]; then
  step "systemd service: skipped (systemd is not running here)"
else
  step "systemd service $SERVICE"
  # The web view's token (device live reads $ZMG_WEB_TOKEN): made once, readable by root only, so the
  # printed link keeps working across restarts and reboots. Loopback and --no-auth need none.
  if [ -n "$SERVE" ] && [ $NO_AUTH -eq 0 ]; then
    if $SUDO test -s "$TOKEN_FILE"; then
      ok "web view token kept in $TOKEN_FILE"
    else
      token=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(16))')
      $SUDO mkdir -p "$(dirname "$TOKEN_FILE")"
      printf 'ZMG_WEB_TOKEN=%s\n' "$token" | $SUDO tee "$TOKEN_FILE.new" >/dev/null
      $SUDO chmod 600 "$TOKEN_FILE.new"
      $SUDO mv "$TOKEN_FILE.new" "$TOKEN_FILE"
      changed "web view token written to $TOKEN_FILE"
    fi
  fi
  unit=$(<"$UNIT_TEMPLATE")
  unit=${unit//@REPO@/$REPO}
  unit=${unit//@VENV@/$VENV}
  unit=${unit//@USER@/$SERVICE_USER}
  unit=${unit//@ARGS@/$args}
  unit=${unit//@TOKEN_FILE@/$TOKEN_FILE}
  restart=0
  if [ "$unit" = "$(cat "$UNIT_PATH" 2>/dev/null)" ]; then
    ok "$UNIT_PATH is current"
  else
    printf '%s\n' "$unit" | $SUDO tee "$UNIT_PATH.new" >/dev/null
    $SUDO chmod 644 "$UNIT_PATH.new"
    $SUDO mv "$UNIT_PATH.new" "$UNIT_PATH"
    $SUDO systemctl daemon-reload
    changed "wrote $UNIT_PATH (ExecStart=$VENV/bin/device live --headless$args)"
    restart=1
  fi
  if systemctl is-enabled --quiet "$SERVICE"; then
    ok "enabled at boot"
  else
    $SUDO systemctl enable --quiet "$SERVICE"
    changed "enabled at boot"
  fi
  if [ $restart -eq 1 ] && systemctl is-active --quiet "$SERVICE"; then
    $SUDO systemctl restart "$SERVICE"
    changed "restarted with the new settings"
  elif ! systemctl is-active --quiet "$SERVICE"; then
    $SUDO systemctl start "$SERVICE"
    changed "started"
  else
    ok "running"
  fi
fi

# --- done ----------------------------------------------------------------------------------------------
step "done: $([ $CHANGED -eq 1 ] && echo 'set up' || echo 'nothing changed, all was in place')"
echo "    live, in this terminal:  $VENV/bin/device live --headless$args"
if [ $WITH_SERVICE -eq 1 ] && { [ -d /run/systemd/system ] || [ -n "${SETUP_PI_UNIT_PATH:-}" ]; }; then
  echo "    service log:             journalctl -u $SERVICE -f"
  echo "    stop / disable:          sudo systemctl stop $SERVICE / sudo systemctl disable --now $SERVICE"
fi
if [ -n "$SERVE" ]; then
  host=127.0.0.1
  [[ $SERVE != *:* ]] || host=${SERVE%:*}
  case $host in
    0.0.0.0|"[::]") host=$(hostname -I 2>/dev/null | cut -d' ' -f1) ;;
    "") host=127.0.0.1 ;;
  esac
  query=""
  if [ $NO_AUTH -eq 0 ]; then
    token=$($SUDO sed -n 's/^ZMG_WEB_TOKEN=//p' "$TOKEN_FILE" 2>/dev/null || true)
    [ -z "$token" ] || query="?token=$token"
  fi
  echo "    web view:                http://${host:-$(hostname)}:${SERVE##*:}/$query"
fi
