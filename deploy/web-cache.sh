#!/usr/bin/env bash
# Keeps the web UI's installed packages (web/node_modules) and build (web/dist) across fresh
# clones, keyed by what they are made from, so a CI run on an unchanged UI neither reinstalls nor
# rebuilds it:
#   deploy/web-cache.sh restore   before the cargo build (build.rs then finds both up to date)
#   deploy/web-cache.sh save      after it
# node_modules is keyed by web/package-lock.json, dist by every file build.rs watches. The cache
# lives in $RACEWAY_WEB_CACHE (default ~/.cache/raceway-web) and keeps the newest 3 of each.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../web"
cache="${RACEWAY_WEB_CACHE:-$HOME/.cache/raceway-web}"
mkdir -p "$cache"

modules_key="modules-$(sha256sum package-lock.json | cut -c1-16)"
# The same inputs as build.rs's SOURCES.
inputs=()
for input in src public index.html package.json package-lock.json vite.config.ts \
    tailwind.config.js postcss.config.js tsconfig.json openapi.json; do
    [[ -e $input ]] && inputs+=("$input")
done
dist_key="dist-$(find "${inputs[@]}" -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)"

prune() { # keeps the 3 newest entries named $1-*
    ls -1dt "$cache/$1"-* 2>/dev/null | tail -n +4 | xargs -r rm -rf
}

case "${1:-}" in
restore)
    if [[ ! -d node_modules && -d "$cache/$modules_key" ]]; then
        # Hard links: instant, and the cache entry is never written through (npm ci replaces).
        cp -al "$cache/$modules_key" node_modules
        touch node_modules/.package-lock.json   # newer than the clone's package-lock.json
        echo "web: node_modules from the cache ($modules_key)"
    fi
    if [[ ! -d dist && -d "$cache/$dist_key" ]]; then
        cp -r "$cache/$dist_key" dist            # fresh mtimes: newer than the sources
        echo "web: dist from the cache ($dist_key)"
    fi
    ;;
save)
    if [[ -f node_modules/.package-lock.json && ! -d "$cache/$modules_key" ]]; then
        cp -al node_modules "$cache/$modules_key.tmp" && mv "$cache/$modules_key.tmp" "$cache/$modules_key"
        touch "$cache/$modules_key"
        prune modules
    fi
    if [[ -f dist/index.html && ! -d "$cache/$dist_key" ]]; then
        cp -r dist "$cache/$dist_key.tmp" && mv "$cache/$dist_key.tmp" "$cache/$dist_key"
        touch "$cache/$dist_key"
        prune dist
    fi
    ;;
*)
    echo "usage: $0 restore|save" >&2
    exit 2
    ;;
esac
