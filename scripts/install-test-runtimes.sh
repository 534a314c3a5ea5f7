#!/usr/bin/env bash
# Installs the JavaScript runtimes the SDK's tests run it in besides the system Node (packages/sdk/test): Node 18 and
# 22, Deno, Bun and workerd (the Workers runtime), from the npm packages that ship their Linux binaries, unpacked into .cache/runtimes/<name>/.
# Kept out of node_modules on purpose: npm would link each Node package's `node` into node_modules/.bin, and every
# npm script and npx would then run on it. Run by `scripts/setup.sh --test`; idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case "$(uname -m)" in
  x86_64) node_arch=x64 deno_arch=x64 bun_arch=x64 workerd_arch=64 ;;
  aarch64) node_arch=arm64 deno_arch=arm64 bun_arch=aarch64 workerd_arch=arm64 ;;
  *) echo "install-test-runtimes: no runtime packages for $(uname -m)" >&2; exit 1 ;;
esac

# name, npm package@version, the binary inside the package
runtimes=(
  "node18 node-linux-$node_arch@18.20.8 bin/node"
  "node22 node-linux-$node_arch@22.23.5 bin/node"
  "deno @deno/linux-$deno_arch-glibc@2.9.6 deno"
  "bun @oven/bun-linux-$bun_arch@1.4.5 bin/bun"
  "workerd @cloudflare/workerd-linux-$workerd_arch@1.20261117.1 bin/workerd"
)

root=.cache/runtimes
mkdir -p "$root"
for entry in "${runtimes[@]}"; do
  read -r name spec binary <<<"$entry"
  directory="$root/$name"
  if [[ "$(cat "$directory/.installed" 2>/dev/null)" == "$spec" && -x "$directory/$binary" ]]; then
    continue
  fi
  echo "install-test-runtimes: $name from $spec"
  download=$(mktemp -d)
  # npm pack checks the tarball against the registry's integrity hash.
  tarball=$(npm pack --silent --pack-destination "$download" "$spec")
  rm -rf "$directory" && mkdir -p "$directory"
  tar -xzf "$download/$tarball" -C "$directory" --strip-components=1
  rm -rf "$download"
  chmod +x "$directory/$binary"
  ln -sfn "$binary" "$directory/runtime"
  echo "$spec" >"$directory/.installed"
done
