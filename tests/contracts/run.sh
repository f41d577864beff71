#!/usr/bin/env bash
# Contract tests against the real binary: served routes == contracts/openapi.json,
# live answers (success and error, open and with auth) validate against their
# schemas (ajv, JSON Schema 2020-12), and the pipeline's 404/405/413/415/400
# answers come in the error envelope.
#   tests/contracts/run.sh                 (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/contracts/run.sh
exec "$(dirname "$0")/../node-suite.sh" "$(dirname "$0")" 180 "$@"
