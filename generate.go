package main

// The GraphQL layer (graph/) is generated from schema.graphqls; CI runs this
// and fails when the output differs from what is committed.
//go:generate go tool gqlgen generate
