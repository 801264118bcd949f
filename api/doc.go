// Package api owns Warden's HTTP surface: the GraphQL handler with its
// limits, error presenter and metrics, the playground, and the health,
// readiness and metrics endpoints.
package api
