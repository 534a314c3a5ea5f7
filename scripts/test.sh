#!/usr/bin/env bash
# The whole test suite: type check, lint, and every test (real sandboxes, PGlite and PostgreSQL).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --test
npm run --silent typecheck
npm run --silent lint
npx vitest run
