#!/bin/sh
# Installs pushsync-server as an application of its own: a fresh project in DIR whose dependencies
# are the packages given, then a check that the command starts.
#
#   install.sh DIR SPEC...
#
# SPEC is anything `npm install` takes: `@pushsync/server@0.1.0` from the registry, or the two
# tarballs `npm pack` makes (pushsync and @pushsync/server, together: the server depends on pushsync
# by version, and a tarball given on the same command line satisfies it).
#
# server/Dockerfile builds its image with this script, and the packaging test
# (test/package/install/run.ts) installs with it too, so the test proves the image's install.
set -eu

if [ "$#" -lt 2 ]; then
  echo "usage: install.sh DIR SPEC..." >&2
  exit 2
fi
dir=$1
shift

mkdir -p "$dir"
cd "$dir"
if [ ! -f package.json ]; then
  # better-sqlite3 compiles its native module in an install script: allow that one by name.
  cat >package.json <<'JSON'
{
  "name": "pushsync-server-app",
  "private": true,
  "type": "module",
  "allowScripts": { "better-sqlite3": true }
}
JSON
fi

npm install --omit=dev --no-audit --no-fund "$@"

# The command is linked and runs on plain Node (`--help` loads every module the server imports), and
# better-sqlite3's native module, compiled by its install script, loads on this machine.
./node_modules/.bin/pushsync-server --help >/dev/null
node --eval "
  const { createRequire } = require('node:module')
  const fromServer = createRequire(require.resolve('@pushsync/server/package.json'))
  new (fromServer('better-sqlite3'))(':memory:').close()
"
