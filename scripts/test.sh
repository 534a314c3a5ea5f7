#!/usr/bin/env bash
# The whole test suite: type check, lint, and every test (real sandboxes, PGlite and PostgreSQL, the Python SDK).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --test
npm run --silent typecheck
npm run --silent lint
npx vitest run
# The Python SDK and the Baponi SDK against a real server, after vitest: its global setup builds the runtime image.
# pytest exits non-zero (5) if it collected no test, which fails this script like a failing test.
.venv-python-sdk/bin/pytest python/tests -q -rxX
