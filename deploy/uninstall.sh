#!/bin/sh
# Remove what deploy/install.sh made (SPEC §13). Run as root: sudo sh deploy/uninstall.sh
# Keeps the database, the config, the secrets and the accounts unless CLINICAST_PURGE=1;
# staff logins are never removed (they are people's). The same environment variables as
# the install choose the paths and names (deploy/paths.sh).
set -eu

. "$(dirname "$0")/paths.sh"  # PREFIX ETC DATA BIN UNITS TMPFILES SSHD SERVICE STAFF SYSTEM
PURGE=${CLINICAST_PURGE:-0}    # 1: the database, the config, the secrets and the accounts too

# 1. The daemon: stopped, disabled, its unit gone
if [ "$SYSTEM" = 1 ] && [ -e "$UNITS/clinicast.service" ]; then systemctl disable --now clinicast || true; fi
rm -f "$UNITS/clinicast.service"
if [ "$SYSTEM" = 1 ]; then systemctl daemon-reload; fi

# 2. Staff no longer land in clinicast over SSH
rm -f "$SSHD/clinicast.conf"
if [ "$SYSTEM" = 1 ]; then sshd -t && systemctl reload ssh; fi

# 3. The program
rm -f "$TMPFILES/clinicast.conf"
if [ -L "$BIN/clinicast" ]; then rm -f "$BIN/clinicast"; fi
rm -rf "$PREFIX"

# 4. What holds the clinic's data: kept unless asked
if [ "$PURGE" = 1 ]; then
  rm -rf "$DATA" "$ETC"
  if [ "$SYSTEM" = 1 ]; then rm -rf /var/lib/clinicast-daemon; fi  # the unit's StateDirectory
  if getent passwd "$SERVICE" >/dev/null; then userdel "$SERVICE"; fi
  if getent group "$SERVICE" >/dev/null; then groupdel "$SERVICE"; fi
  if getent group "$STAFF" >/dev/null; then groupdel "$STAFF"; fi
  echo "clinicast removed, with its database ($DATA), its config and secrets ($ETC) and the accounts $SERVICE and $STAFF."
else
  echo "clinicast removed. Kept: the database in $DATA, the config and secrets in $ETC, the account $SERVICE and the group $STAFF (CLINICAST_PURGE=1 removes them too)."
fi
