#!/usr/bin/env bash
# Builds the seccomp policy generator (build/airlock-seccomp), writes the
# sandbox's and the fork template's BPF programs (build/seccomp.bpf,
# build/seccomp-template.bpf), builds the sandbox spawner
# (build/airlock-spawner), the fork template's namespace maker (build/airlock-fork-namespaces, static: it runs
# in the image's root) and the file system addon (build/fs-extras.node). Each step runs only when its output is
# missing or older than its input.
set -euo pipefail

native_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="$native_dir/build"
source_file="$native_dir/seccomp-profile.c"
generator="$build_dir/airlock-seccomp"
program="$build_dir/seccomp.bpf"
install_hint="install libseccomp-dev: apt-get install -y libseccomp-dev gcc"

fail() {
  echo "build:native: $*" >&2
  exit 1
}

cc_bin="${CC:-cc}"
command -v "$cc_bin" >/dev/null 2>&1 || fail "C compiler '$cc_bin' not found; $install_hint"

# Locates seccomp.h and libseccomp through pkg-config when it is available,
# otherwise through the compiler's default search paths.
seccomp_cflags=""
seccomp_libs="-lseccomp"
if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libseccomp 2>/dev/null; then
  seccomp_cflags="$(pkg-config --cflags libseccomp)"
  seccomp_libs="$(pkg-config --libs libseccomp)"
fi

if [[ ! -x "$generator" || "$source_file" -nt "$generator" || "${BASH_SOURCE[0]}" -nt "$generator" ]]; then
  # shellcheck disable=SC2086 # the pkg-config flags are word lists
  echo '#include <seccomp.h>' | "$cc_bin" $seccomp_cflags -E -x c - >/dev/null 2>&1 \
    || fail "seccomp.h not found; $install_hint"
  mkdir -p "$build_dir"
  # shellcheck disable=SC2086
  "$cc_bin" -O2 -Wall -Wextra -Werror -std=c11 $seccomp_cflags \
    -o "$generator.tmp" "$source_file" $seccomp_libs \
    || fail "compiling $source_file failed (if libseccomp is missing: $install_hint)"
  mv -f "$generator.tmp" "$generator"
  echo "build:native: built $generator"
fi

# The sandbox's program, and the fork template's (-t: docs/decisions/0033-fork-tier.md).
write_program() {
  local output=$1
  shift
  if [[ ! -s "$output" || "$generator" -nt "$output" ]]; then
    "$generator" "$@" "$output.tmp" || fail "$generator failed to write $output"
    mv -f "$output.tmp" "$output"
    echo "build:native: wrote $output ($(($(wc -c <"$output") / 8)) BPF instructions)"
  fi
}
write_program "$program"
write_program "$build_dir/seccomp-template.bpf" -t

spawner_source="$native_dir/sandbox-spawner.c"
spawner="$build_dir/airlock-spawner"
if [[ ! -x "$spawner" || "$spawner_source" -nt "$spawner" || "${BASH_SOURCE[0]}" -nt "$spawner" ]]; then
  mkdir -p "$build_dir"
  "$cc_bin" -O2 -Wall -Wextra -Werror -std=c11 -o "$spawner.tmp" "$spawner_source" \
    || fail "compiling $spawner_source failed"
  mv -f "$spawner.tmp" "$spawner"
  echo "build:native: built $spawner"
fi

namespaces_source="$native_dir/fork-namespaces.c"
namespaces="$build_dir/airlock-fork-namespaces"
if [[ ! -x "$namespaces" || "$namespaces_source" -nt "$namespaces" || "${BASH_SOURCE[0]}" -nt "$namespaces" ]]; then
  mkdir -p "$build_dir"
  "$cc_bin" -O2 -Wall -Wextra -Werror -std=c11 -static -s -o "$namespaces.tmp" "$namespaces_source" \
    || fail "compiling $namespaces_source failed (a static build needs libc6-dev's libc.a)"
  mv -f "$namespaces.tmp" "$namespaces"
  echo "build:native: built $namespaces"
fi

addon_source="$native_dir/fs-extras.c"
addon="$build_dir/fs-extras.node"
if [[ ! -f "$addon" || "$addon_source" -nt "$addon" || "${BASH_SOURCE[0]}" -nt "$addon" ]]; then
  napi_include="$(cd "$native_dir" && node -p \
    "require('path').join(require('path').dirname(require.resolve('node-api-headers/package.json')), 'include')")" \
    || fail "node-api-headers not found; run npm install"
  mkdir -p "$build_dir"
  "$cc_bin" -O2 -Wall -Wextra -Werror -std=c11 -shared -fPIC -DNODE_GYP_MODULE_NAME=fs_extras \
    -I"$napi_include" -o "$addon.tmp" "$addon_source" \
    || fail "compiling $addon_source failed"
  mv -f "$addon.tmp" "$addon"
  echo "build:native: built $addon"
fi
