#!/usr/bin/env bash
# Contract drift and lint (issue 4, "Contracts"): regenerates contracts/openapi.json
# (from the binary's route table and schemas) and the TypeScript types
# (clients/web/src/generated/api.ts, with openapi-typescript) into a temp dir,
# fails when either differs from the committed file, runs `redocly lint`, and
# checks that contracts/errors.md lists every error code the server uses.
#   scripts/check-contracts.sh            check (uses build/bin/corates-sync)
#   scripts/check-contracts.sh --write    regenerate the committed files, then check
#   CORATES_BIN=path/to/binary scripts/check-contracts.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bin="${CORATES_BIN:-$root/build/bin/corates-sync}"
write=0
[ "${1:-}" = "--write" ] && write=1
[ -x "$bin" ] || { echo "check-contracts: no binary at $bin (build first, or set CORATES_BIN)"; exit 1; }

openapi=contracts/openapi.json
types=clients/web/src/generated/api.ts
regen="scripts/check-contracts.sh --write"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0

"$bin" openapi -o "$tmp/openapi.json"
# To a file: on stdout openapi-typescript mixes its progress line into the types.
node_modules/.bin/openapi-typescript "$tmp/openapi.json" --output "$tmp/api.raw.ts" >/dev/null 2>&1
{
  echo "// Generated from contracts/openapi.json by openapi-typescript ($regen); do not edit."
  cat "$tmp/api.raw.ts"
} >"$tmp/api.ts"
grep -q "export interface paths" "$tmp/api.ts" || { echo "check-contracts: openapi-typescript produced no types"; exit 1; }

if [ $write -eq 1 ]; then
  mkdir -p "$(dirname "$types")"
  cp "$tmp/openapi.json" "$openapi"
  cp "$tmp/api.ts" "$types"
  echo "check-contracts: wrote $openapi and $types"
fi
for pair in "$openapi:$tmp/openapi.json" "$types:$tmp/api.ts"; do
  committed="${pair%%:*}"
  fresh="${pair#*:}"
  if ! diff -u "$committed" "$fresh" >"$tmp/diff" 2>&1; then
    echo "FAIL contract drift: $committed differs from what the code generates:"
    head -40 "$tmp/diff"
    echo "  (regenerate with: $regen, then review and commit)"
    fail=1
  fi
done

if ! node_modules/.bin/redocly lint --config contracts/redocly.yaml "$openapi" >"$tmp/lint" 2>&1; then
  cat "$tmp/lint"
  echo "FAIL redocly lint $openapi"
  fail=1
fi

# Every error code written in the server's sources is documented.
codes="$(grep -rhoE '"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+"' server/src | tr -d '"' | sort -u)"
for extra in NOT_FOUND BUSY CONFLICT INTERNAL FORBIDDEN UNAUTHENTICATED UNAVAILABLE; do
  codes+=$'\n'"$extra"
done
missing=""
for code in $(sort -u <<<"$codes"); do
  # Upper-case literals that are not error codes (headers, config keys) are listed as such there.
  grep -q "\`$code\`" contracts/errors.md || missing+=" $code"
done
if [ -n "$missing" ]; then
  echo "FAIL contracts/errors.md does not list:$missing"
  fail=1
fi

# Each schema declares 2020-12 and an \$id ending in its own file name.
for f in contracts/schemas/*.json; do
  node -e '
    const f = process.argv[1], s = JSON.parse(require("fs").readFileSync(f, "utf8"))
    const name = require("path").basename(f)
    if (s.$schema !== "https://json-schema.org/draft/2020-12/schema") throw new Error(f + ": $schema is not 2020-12")
    if (typeof s.$id !== "string" || !s.$id.endsWith("/" + name)) throw new Error(f + ": $id must end in /" + name)
  ' "$f" || fail=1
done

if [ $fail -ne 0 ]; then
  echo "check-contracts: FAILED"
  exit 1
fi
echo "check-contracts: openapi.json and TypeScript types up to date, lint clean, error codes documented"
