#!/usr/bin/env bash
# Prepare this machine for byok's tests against real PKCS#11 modules.
# Idempotent; run as root (pkcsslotd and its directories need it).
#
#   SoftHSM2      nothing to do: the tests make a throwaway token under a
#                 temporary SOFTHSM2_CONF (hsmtest.NewSoftHSM).
#   opencryptoki  create its lock and state directories and start the slot
#                 daemon pkcsslotd unless it runs. The tests initialise the
#                 software token (slot 3) themselves, through PKCS#11, if it
#                 is not yet: label byok-test, SO PIN 87654321 (the default),
#                 user PIN set with C_InitPIN then changed with C_SetPIN
#                 (hsmtest.OpenCryptoki). No PIN goes through argv.
#
# Packages (Debian/Ubuntu): softhsm2 opensc opencryptoki. With --install,
# this script installs the ones missing with apt-get.
set -euo pipefail

install=false
[ "${1:-}" = "--install" ] && install=true

softhsm_lib=/usr/lib/softhsm/libsofthsm2.so
ock_lib=/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so
ock_tmpfiles=/usr/lib/tmpfiles.d/opencryptoki.conf

need=()
[ -e "$softhsm_lib" ] || need+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || need+=(opensc)
{ [ -e "$ock_lib" ] && [ -x /usr/sbin/pkcsslotd ]; } || need+=(opencryptoki)
if [ ${#need[@]} -gt 0 ]; then
  if $install; then
    echo "hsm-setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${need[@]}"
  else
    echo "hsm-setup: missing packages: ${need[*]} (apt-get install ${need[*]}, or rerun with --install)" >&2
    exit 1
  fi
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "hsm-setup: run as root: pkcsslotd and /var/lib/opencryptoki need it" >&2
  exit 1
fi

# opencryptoki's directories (/run/lock/opencryptoki/…, /var/lib/opencryptoki/…).
if command -v systemd-tmpfiles >/dev/null 2>&1 && [ -e "$ock_tmpfiles" ]; then
  systemd-tmpfiles --create "$ock_tmpfiles"
else
  # Without systemd-tmpfiles, what its configuration says.
  for d in /var/lock/opencryptoki /var/lock/opencryptoki/swtok /var/lib/opencryptoki /var/lib/opencryptoki/swtok /var/lib/opencryptoki/swtok/TOK_OBJ; do
    install -d -m 0770 -o root -g pkcs11 "$d"
  done
fi

# A running (not zombie) pkcsslotd.
running() { ps -C pkcsslotd -o stat= 2>/dev/null | grep -qv '^Z'; }

if running; then
  echo "hsm-setup: pkcsslotd already runs"
else
  echo "hsm-setup: starting pkcsslotd"
  /usr/sbin/pkcsslotd
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    running && break
    sleep 0.5
  done
  if ! running; then
    echo "hsm-setup: pkcsslotd did not start; see the system log, and /etc/opencryptoki/opencryptoki.conf" >&2
    exit 1
  fi
fi

# The software token must be in slot 3 (Debian's opencryptoki.conf).
if command -v pkcsconf >/dev/null 2>&1; then
  if ! pkcsconf -c 3 -t >/dev/null 2>&1; then
    echo "hsm-setup: opencryptoki has no token in slot 3 (libpkcs11_sw.so); check /etc/opencryptoki/opencryptoki.conf" >&2
    exit 1
  fi
  pkcsconf -c 3 -t | sed -n 's/^\s*\(Label\|Flags\):/hsm-setup: slot 3 &/p'
fi
echo "hsm-setup: ready"
