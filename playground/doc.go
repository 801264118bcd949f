// Package playground serves the GraphiQL playground with its JavaScript and
// CSS embedded in the binary, so that it works where no CDN can be reached
// (air-gapped deployments, closed CI machines) and loads nothing from a
// third party. The page itself is gqlgen's; the files under assets/ are the
// exact npm releases that page is written for, re-fetched by
// scripts/playground-assets.sh.
package playground
