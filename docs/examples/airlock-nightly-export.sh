#!/bin/sh
# Nightly export on the DMZ (connected) side: one signed bundle of what the mirror list names,
# carrying only what the site lacks when its last receipt came back (--since receipt.json).
# Settings come from the environment (the systemd unit's EnvironmentFile, or cron's line).
set -eu
AIRLOCK=${AIRLOCK:-airlock}
MIRROR=${AIRLOCK_MIRROR:-/etc/airlock/mirror.yaml}
SIGN_KEY=${AIRLOCK_SIGN_KEY:-/etc/airlock/dmz.key}
OUTBOX=${AIRLOCK_OUTBOX:-/srv/airlock/outbox}          # what goes onto the drive / through the diode
RECEIPT=${AIRLOCK_RECEIPT:-/srv/airlock/inbox/receipt.json}  # the site's newest receipt, carried back
RECEIPT_KEY=${AIRLOCK_RECEIPT_KEY:-}                   # the site's public key, when receipts are signed
CACHE=${AIRLOCK_CACHE:-/var/cache/airlock}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUTBOX"
set -- bundle export -f "$MIRROR" -o "$OUTBOX/site-$stamp.tar.zst" --sign-key "$SIGN_KEY" --cache "$CACHE"
if [ -f "$RECEIPT" ]; then
  set -- "$@" --since "$RECEIPT"
  if [ -n "$RECEIPT_KEY" ]; then set -- "$@" --receipt-key "$RECEIPT_KEY"; fi
fi
# Extra flags, e.g. AIRLOCK_EXPORT_ARGS="--split-size 4GiB --parity 1" for removable media.
# shellcheck disable=SC2086
exec "$AIRLOCK" "$@" ${AIRLOCK_EXPORT_ARGS:-}
