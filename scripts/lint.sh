#!/usr/bin/env bash
# Formatting and static checks: clang-format (dry run) and clang-tidy over the
# project's C++ sources, using build/compile_commands.json from the release preset.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' | grep -v '^tests/.*/vectors/')
clang-format --dry-run --Werror "${files[@]}"
if [ "${LINT_TIDY:-0}" = 1 ]; then
  mapfile -t sources < <(printf '%s\n' "${files[@]}" | grep '\.cpp$')
  clang-tidy -p build --quiet "${sources[@]}"
fi
