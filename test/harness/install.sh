#!/usr/bin/env bash
# Installs the headless VS Code test harness (code-server + playwright-core) into test/harness/.
# Idempotent: a stamp file records what was installed; a second run only verifies (seconds).
# Needs root for apt-get (skipped when every package is already present).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
STAMP="$HERE/.stamp"
APT_PACKAGES=(chromium ripgrep libkrb5-dev g++ make python3 pkg-config fonts-dejavu-core)

log() { printf '[harness-install] %s\n' "$*"; }

# --- 1. system packages -------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- verification (also the fast path) ----------------------------------------------------
verify() {
  command -v rg >/dev/null || { log "rg missing"; return 1; }
  [[ -x /usr/bin/chromium ]] || { log "/usr/bin/chromium missing"; return 1; }
  local cs="$HERE/node_modules/code-server"
  [[ -f "$cs/out/node/entry.js" ]] || { log "code-server missing"; return 1; }
  [[ -f "$cs/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ]] || { log "@vscode/ripgrep binary missing"; return 1; }
  (cd "$cs/lib/vscode" && node -e '
    for (const m of ["node-pty", "@vscode/spdlog", "native-watchdog", "@parcel/watcher"]) require(m);
  ') || { log "a native module of VS Code does not load"; return 1; }
  node -e 'require.resolve("playwright-core")' || { log "playwright-core missing"; return 1; }
  local cfg; cfg="$(mktemp -d)"
  local v; v="$(XDG_CONFIG_HOME="$cfg" XDG_DATA_HOME="$cfg" node "$cs/out/node/entry.js" --version 2>/dev/null | grep -E "^[0-9]+\.[0-9]+" | head -1)"
  rm -rf "$cfg"
  [[ -n "$v" ]] || { log "code-server --version failed"; return 1; }
  log "ok: code-server $v"
}

want="$(sha256sum package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16) node-$(node -p 'process.versions.node.split(".")[0]')"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && verify; then
  log "already installed"
  exit 0
fi

# --- 2. seed @vscode/ripgrep's download cache from Debian's rg ------------------------------
# Its postinstall would download rg from api.github.com (unreachable); it first looks for
# $TMPDIR/vscode-ripgrep-cache-<pkgver>/ripgrep-<tag>-<target>.tar.gz.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export TMPDIR="$WORK/tmp"
mkdir -p "$TMPDIR"

log "fetching code-server tarball metadata"
CS_VERSION="$(node -p 'require("./package.json").dependencies["code-server"]')"
(cd "$WORK" && npm pack --silent "code-server@$CS_VERSION" >/dev/null 2>&1)
tar -xzf "$WORK"/code-server-*.tgz -C "$WORK"
PKG="$WORK/package"
CS_NODE="$(node -p "(require('$PKG/package.json').engines||{}).node||''")"
if [[ -n "$CS_NODE" && "$CS_NODE" != "$(node -p 'process.versions.node.split(".")[0]')" ]]; then
  log "code-server $CS_VERSION wants Node $CS_NODE; this harness supports the machine's Node only"
  exit 1
fi
RG_VER="$(node -e '
  const fs = require("fs"); const p = process.argv[1];
  for (const f of [p + "/lib/vscode/npm-shrinkwrap.json", p + "/lib/vscode/package-lock.json"]) {
    if (!fs.existsSync(f)) continue;
    const j = JSON.parse(fs.readFileSync(f, "utf8"));
    const e = (j.packages || {})["node_modules/@vscode/ripgrep"] || (j.dependencies || {})["@vscode/ripgrep"];
    if (e) { console.log(e.version); process.exit(0); }
  }
  const d = require(p + "/lib/vscode/package.json").dependencies || {};
  console.log((d["@vscode/ripgrep"] || "").replace(/^[^0-9]*/, ""));
' "$PKG")"
if [[ -n "$RG_VER" ]]; then
  (cd "$WORK" && npm pack --silent "@vscode/ripgrep@$RG_VER" >/dev/null 2>&1)
  mkdir -p "$WORK/rgpkg" && tar -xzf "$WORK"/vscode-ripgrep-*.tgz -C "$WORK/rgpkg"
  RG_TAG="$(node -e '
    const s = require("fs").readFileSync(process.argv[1] + "/package/lib/postinstall.js", "utf8");
    const m = s.match(/VERSION\s*=\s*["\x27]([^"\x27]+)["\x27]/); console.log(m ? m[1] : "");
  ' "$WORK/rgpkg")"
  case "$(uname -m)" in
    x86_64) RG_TARGET=x86_64-unknown-linux-musl ;;
    aarch64) RG_TARGET=aarch64-unknown-linux-musl ;;
    *) RG_TARGET="$(uname -m)-unknown-linux-gnu" ;;
  esac
  CACHE="$TMPDIR/vscode-ripgrep-cache-$RG_VER"
  mkdir -p "$CACHE" "$WORK/rgbin/bin"
  cp "$(command -v rg)" "$WORK/rgbin/bin/rg"
  tar -czf "$CACHE/ripgrep-$RG_TAG-$RG_TARGET.tar.gz" -C "$WORK/rgbin/bin" rg
  log "seeded @vscode/ripgrep $RG_VER cache (ripgrep-$RG_TAG-$RG_TARGET.tar.gz)"
fi

# --- 3. npm install -------------------------------------------------------------------------
# npm_config_unsafe_perm: code-server's postinstall refuses to run as root without it.
# npm_config_yes: node-pty's postinstall runs `npx node-gyp`, which otherwise is cancelled.
export npm_config_unsafe_perm=true npm_config_yes=true
log "npm install (compiles VS Code's native modules; about 2 minutes on 2 cores)"
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi

verify
echo "$(sha256sum package.json package-lock.json | sha256sum | cut -c1-16) node-$(node -p 'process.versions.node.split(".")[0]')" > "$STAMP"
log "done"
