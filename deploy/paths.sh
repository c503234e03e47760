# The paths and names deploy/install.sh and deploy/uninstall.sh share: both source this file
# (it is not run on its own). Every one can be changed through the environment (the test
# installs into a temporary folder with its own users); the defaults are those of a real server.
PREFIX=${CLINICAST_PREFIX:-/opt/clinicast}
ETC=${CLINICAST_ETC:-/etc/clinicast}
DATA=${CLINICAST_DATA:-/var/lib/clinicast}
BIN=${CLINICAST_BIN:-/usr/local/bin}
UNITS=${CLINICAST_UNITS:-/etc/systemd/system}
TMPFILES=${CLINICAST_TMPFILES:-/etc/tmpfiles.d}
SSHD=${CLINICAST_SSHD:-/etc/ssh/sshd_config.d}
SERVICE=${CLINICAST_USER:-clinicast}
STAFF=${CLINICAST_STAFF_GROUP:-clinicast-staff}
SYSTEM=${CLINICAST_SYSTEM:-1}  # 0: no apt-get, systemctl or sshd reload (the test)
