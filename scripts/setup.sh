#!/usr/bin/env bash
# Installs what Airlock needs on Debian 12 and builds it. Idempotent; run as root (or with sudo available).
#   scripts/setup.sh            packages to run Airlock, npm dependencies, build
#   scripts/setup.sh --test     the same, plus what the test suite needs (PostgreSQL server, Chromium, schemathesis, the
#                               Python SDK's venv, the Node 18 and 22, Deno and Bun builds the SDK is tested in)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(bubblewrap mmdebstrap libseccomp-dev gcc libc6-dev pkg-config ca-certificates nftables iproute2 conntrack)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(postgresql python3-venv chromium systemd)
fi

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v node >/dev/null || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# `npm install` with the committed lock file installs exactly the locked versions. `npm ci` is not used: it
# rejects a lock file that lacks entries for platform-specific optional packages (rollup's non-Linux binaries),
# and the package registries this project is built against do not carry those, so no lock file can list them.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm install --no-audit --no-fund
fi
npm run --silent build

# schemathesis fuzzes the OpenAPI document (test/schemathesis.test.ts), from a venv in the checkout. Debian's
# python3 by its path: the one python3-venv belongs to, whatever other python3 comes first on PATH (pyenv's).
if [[ "${1:-}" == "--test" ]]; then
  schemathesis_version=4.32.5
  if [[ "$(.venv-test/bin/st --version 2>/dev/null)" != "st, version $schemathesis_version" ]]; then
    echo "setup: installing schemathesis $schemathesis_version into .venv-test"
    /usr/bin/python3 -m venv --clear .venv-test
    .venv-test/bin/pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
  fi
  # The Python SDK's tests (python/tests) run from their own venv: the SDK installed editable (its source changes
  # need no reinstall) with its pinned test extra; reinstalled when python/pyproject.toml changes.
  python_sdk_stamp=".venv-python-sdk/installed-$(sha256sum python/pyproject.toml | cut -c1-16)"
  if [[ ! -f "$python_sdk_stamp" ]]; then
    echo "setup: installing the Python SDK and its test dependencies into .venv-python-sdk"
    /usr/bin/python3 -m venv --clear .venv-python-sdk
    .venv-python-sdk/bin/pip install --quiet --disable-pip-version-check -e 'python[test]'
    touch "$python_sdk_stamp"
  fi
  scripts/install-test-runtimes.sh
fi
echo "setup: done"
