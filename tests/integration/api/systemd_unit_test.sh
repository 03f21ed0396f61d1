#!/bin/sh
# The systemd unit as docs/deployment-systemd.md installs it:
#  1. `systemd-analyze verify` accepts it (in a scratch root holding the unit, a stand-in binary and
#     the distribution's units), with no unknown keys;
#  2. the service's dynamic user (any unprivileged uid) can run `check-config` (ExecStartPre) on
#     the configuration installed with the documented modes, reading its secrets from a
#     credentials directory laid out as LoadCredential= lays it out (owned by the service, 0400).
# Exit 77 (skipped) without systemd-analyze or setpriv.
set -eu
unit=$1
bin=$2
command -v systemd-analyze >/dev/null 2>&1 || { echo "no systemd-analyze: skipped"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "no setpriv: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

root=$tmp/root
mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/bin" "$root/lib/systemd"
cp "$bin" "$root/usr/local/bin/leakwatch"
cp /bin/kill "$root/bin/kill"
cp -r /lib/systemd/system "$root/lib/systemd/"
cp "$unit" "$root/etc/systemd/system/leakwatch.service"
out=$(systemd-analyze verify --root="$root" /etc/systemd/system/leakwatch.service 2>&1) || {
  echo "systemd-analyze verify failed:"; echo "$out"; exit 1; }
if echo "$out" | grep -E "Unknown (key|section|lvalue)|Invalid|not executable" \
    >/dev/null 2>&1; then
  echo "systemd-analyze verify complained:"; echo "$out"; exit 1
fi
grep -q '^LoadCredential=lw:/etc/leakwatch/credentials$' "$unit" || { echo "no LoadCredential="; exit 1; }
grep -q '^LimitCORE=0$' "$unit" || { echo "no LimitCORE=0"; exit 1; }

# The documented install, under $tmp/etc (modes as in docs/deployment-systemd.md).
etc=$tmp/etc/leakwatch
install -d -m 0755 "$etc"
install -d -m 0700 "$etc/credentials"
printf 'heap-key-value\n' > "$etc/credentials/heap-key"
chmod 0600 "$etc/credentials/heap-key"
creds=$tmp/run/credentials/leakwatch.service
uid=61873
cat > "$tmp/leakwatch.yaml" <<YAML
target:
  name: web
  source: procfs
  pid: 1
capture:
  url: http://127.0.0.1:3000/heapdump
  key: { file: $creds/lw_heap-key }
archive:
  dir: $tmp/state/archive
state_dir: $tmp/state/state
YAML
install -m 0644 "$tmp/leakwatch.yaml" "$etc/leakwatch.yaml"
# What LoadCredential= makes of the directory: lw_<name>, readable by the service only.
install -d -m 0755 "$tmp/run" "$tmp/run/credentials"
install -d -m 0500 -o $uid "$creds"
install -m 0400 -o $uid "$etc/credentials/heap-key" "$creds/lw_heap-key"
chmod 0755 "$tmp"
if ! setpriv --reuid=$uid --regid=$uid --clear-groups "$bin" check-config "$etc/leakwatch.yaml"; then
  echo "the dynamic user cannot check the documented configuration"; exit 1
fi
# The old documented install (root-only 0750 directory, 0640 file) is what made the unit fail.
chmod 0750 "$etc"
chmod 0640 "$etc/leakwatch.yaml"
if setpriv --reuid=$uid --regid=$uid --clear-groups "$bin" check-config "$etc/leakwatch.yaml" \
    >/dev/null 2>&1; then
  echo "expected the root-only install to be unreadable by an unprivileged user"; exit 1
fi
echo "ok"
