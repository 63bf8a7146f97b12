#!/bin/sh
# Nightly import on the isolated side: every bundle waiting in the inbox, oldest first, into the
# site registry; the newest receipt goes to the outbox (for the DMZ's next --since); then the
# freshness check that monitoring reads (exit 1 when stale, a node-exporter textfile either way).
set -eu
AIRLOCK=${AIRLOCK:-airlock}
TARGET=${AIRLOCK_TARGET:?set AIRLOCK_TARGET to the site registry, HOST[:PORT][/PREFIX]}
VERIFY_KEY=${AIRLOCK_VERIFY_KEY:-/etc/airlock/dmz.pub}
INBOX=${AIRLOCK_INBOX:-/srv/airlock/inbox}             # where the drive / diode delivers bundles
DONE=${AIRLOCK_DONE:-/srv/airlock/imported}
STATE=${AIRLOCK_STATE_DIR:-/var/lib/airlock}
OUT=${AIRLOCK_OUT_DIR:-/srv/airlock/out}
RECEIPT_OUTBOX=${AIRLOCK_RECEIPT_OUTBOX:-/srv/airlock/to-dmz}
MAX_AGE=${AIRLOCK_MAX_AGE:-36h}
PROM=${AIRLOCK_PROMETHEUS:-/var/lib/prometheus/node-exporter/airlock.prom}

mkdir -p "$DONE" "$OUT" "$RECEIPT_OUTBOX"
failed=0
# Bundle names carry a UTC time stamp: a plain sort is oldest first.
for bundle in $(ls "$INBOX"/*.tar.zst "$INBOX"/*.tar 2>/dev/null | sort); do
  name=$(basename "$bundle")
  # Extra flags, e.g. AIRLOCK_IMPORT_ARGS="--dest-cert-dir /etc/airlock/certs.d --authfile /etc/airlock/auth.json".
  # shellcheck disable=SC2086
  if "$AIRLOCK" bundle import "$bundle" --to "$TARGET" --verify-key "$VERIFY_KEY" \
      --state-dir "$STATE" --out-dir "$OUT/${name%%.tar*}" --keep-previous-tags --quiet ${AIRLOCK_IMPORT_ARGS:-}; then
    cp "$OUT/${name%%.tar*}/receipt.json" "$RECEIPT_OUTBOX/receipt.json.tmp"
    mv "$RECEIPT_OUTBOX/receipt.json.tmp" "$RECEIPT_OUTBOX/receipt.json"
    mv "$bundle" "$DONE/"
  else
    failed=1   # recorded in the state dir: `site status` shows it as the last failure
    break      # a later delta may need this one as its base
  fi
done
"$AIRLOCK" site status --state-dir "$STATE" --max-age "$MAX_AGE" --prometheus "$PROM" --quiet || failed=1
exit $failed
