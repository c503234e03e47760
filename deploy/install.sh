#!/bin/sh
# Install clinicast on a clinic server: a bare Debian 12 host to staff using it (SPEC §13).
# Run as root from the source folder: sudo sh deploy/install.sh
# Every path and name can be changed through the environment (deploy/paths.sh, which
# deploy/uninstall.sh shares); the defaults are those of a real server.
set -eu
umask 022  # what it installs is readable by every user (a root shell may have umask 027 or 077)

SRC=${CLINICAST_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
. "$(dirname "$0")/paths.sh"  # PREFIX ETC DATA BIN UNITS TMPFILES SSHD SERVICE STAFF SYSTEM
STAFF_USERS=${CLINICAST_STAFF_USERS:-}

# 1. Python 3 from Debian, for everyone on the host
if [ "$SYSTEM" = 1 ]; then apt-get install -y python3 python3-venv; fi

# 2. The service account (its own group reads the secrets) and the staff group (the database)
getent group "$STAFF" >/dev/null || groupadd --system "$STAFF"
getent passwd "$SERVICE" >/dev/null || useradd --system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin "$SERVICE"
usermod -a -G "$STAFF" "$SERVICE"

# 3. Staff: each logs in over SSH as themselves and is a member of the staff group
for login in $STAFF_USERS; do getent passwd "$login" >/dev/null || useradd --create-home --shell /bin/bash "$login"; usermod -a -G "$STAFF" "$login"; done

# 4. clinicast in its own virtual environment, readable and runnable by every user
python3 -m venv "$PREFIX"
"$PREFIX/bin/pip" install --quiet "$SRC"
chmod -R u=rwX,go=rX "$PREFIX"
mkdir -p "$BIN"
ln -sf "$PREFIX/bin/clinicast" "$BIN/clinicast"

# 5. The config (readable by the staff group) and the secrets (readable by the service account only)
install -d -m 0755 -o root -g root "$ETC"
[ -e "$ETC/config.toml" ] || sed -e "s|/var/lib/clinicast|$DATA|g" -e "s|/etc/clinicast|$ETC|g" -e "s|clinicast-staff|$STAFF|g" "$SRC/deploy/config.toml" > "$ETC/config.toml"
chown "root:$STAFF" "$ETC/config.toml"
chmod 0640 "$ETC/config.toml"
for secret in gateway.token smtp.password; do [ -e "$ETC/$secret" ] || install -m 0640 -o root -g "$SERVICE" /dev/null "$ETC/$secret"; done
chown "root:$SERVICE" "$ETC/gateway.token" "$ETC/smtp.password"
chmod 0640 "$ETC/gateway.token" "$ETC/smtp.password"

# 6. The database folder: setgid, shared by the service account and the staff group
sed -e "s|/var/lib/clinicast|$DATA|g" -e "s| clinicast clinicast-staff | $SERVICE $STAFF |" "$SRC/deploy/clinicast.tmpfiles" > "$TMPFILES/clinicast.conf"
install -d -m 2770 -o "$SERVICE" -g "$STAFF" "$DATA"

# 7. The database, created by the service account
runuser -u "$SERVICE" -- "$PREFIX/bin/clinicast" init --config "$ETC/config.toml"

# 8. The daemon under systemd
sed -e "s|/opt/clinicast|$PREFIX|g" -e "s|/etc/clinicast|$ETC|g" -e "s|/var/lib/clinicast|$DATA|g" -e "s|^User=clinicast$|User=$SERVICE|" -e "s|^Group=clinicast$|Group=$SERVICE|" -e "s|clinicast-staff|$STAFF|g" "$SRC/deploy/clinicast.service" > "$UNITS/clinicast.service"
if [ "$SYSTEM" = 1 ]; then systemctl daemon-reload && systemctl enable --now clinicast; fi

# 9. Staff who log in over SSH land in the TUI
sed -e "s|clinicast-staff|$STAFF|g" -e "s|/usr/local/bin|$BIN|g" -e "s|/etc/clinicast|$ETC|g" "$SRC/deploy/sshd-clinicast.conf" > "$SSHD/clinicast.conf"
if [ "$SYSTEM" = 1 ]; then sshd -t && systemctl reload ssh; fi

echo "clinicast installed. Next: put the gateway token in $ETC/gateway.token (and the SMTP password in $ETC/smtp.password), add each staff member under [users.LOGIN] in $ETC/config.toml, then run: $BIN/clinicast config check --config $ETC/config.toml"
echo "Who administers: a login listed under [users.LOGIN] with permissions = [\"campaigns\", \"admin\"] (add yours, and run clinicast as yourself), or the service account: runuser -u $SERVICE -- $BIN/clinicast ... --config $ETC/config.toml. root is not a clinicast user: every change is audited under a person's login."
