#!/usr/bin/env bash
# Starts the dev portal: frontend on :3000, backend on :7007, embedded SQLite, guest
# sign-in, demo catalog entities, the Spider plugins.
source "$(dirname "$0")/toolchain.sh"
cd "$repo_root"
yarn install --immutable
exec node .yarn/releases/yarn-4.13.0.cjs start "$@"
