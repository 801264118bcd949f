#!/usr/bin/env bash
# scripts/playground-assets.sh — re-fetch the playground's JavaScript and CSS
# into playground/assets/ from the npm registry.
#
# Usage: scripts/playground-assets.sh
#
# Warden serves GraphiQL itself (under /playground/assets/) so that the
# playground works where no CDN can be reached. The versions are those gqlgen's
# playground page is written for (graphql/playground/playground.go in the
# gqlgen module); when gqlgen moves to new ones, change them here and in
# playground/playground.go, run this script and commit playground/assets/.
# playground's tests check the files against the hashes gqlgen pins.
#
# Needs npm (for `npm pack`, which checks each tarball against the registry's
# integrity hash), tar and openssl.
set -euo pipefail

GRAPHIQL=4.1.2
REACT=18.2.0

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEST="$REPO_ROOT/playground/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch PACKAGE@VERSION DIR FILE... : copy FILE (path inside the package) and
# the package's LICENSE into $DEST/DIR.
fetch() {
	local spec="$1" dir="$2" tgz f; shift 2
	echo "playground-assets: npm pack $spec" >&2
	tgz="$(cd "$work" && npm pack --silent "$spec" | tail -n 1)"
	mkdir -p "$work/$dir" "$DEST/$dir"
	tar -xzf "$work/$tgz" -C "$work/$dir"
	for f in "$@" LICENSE; do
		cp "$work/$dir/package/$f" "$DEST/$dir/$(basename "$f")"
	done
}

rm -rf "$DEST"
fetch "graphiql@$GRAPHIQL" "graphiql-$GRAPHIQL" graphiql.min.js graphiql.min.css
fetch "react@$REACT" "react-$REACT" umd/react.production.min.js
fetch "react-dom@$REACT" "react-dom-$REACT" umd/react-dom.production.min.js

# The page's integrity attributes are computed from these same bytes when
# Warden starts; printed here to compare with gqlgen's pins by eye.
(cd "$DEST" && for f in */*.js */*.css; do
	printf '%s sha256-%s\n' "$f" "$(openssl dgst -sha256 -binary "$f" | openssl base64 -A)"
done)
