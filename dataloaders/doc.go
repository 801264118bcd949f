// Package dataloaders owns the per-request, per-org batch loaders that turn
// the lookups of a page of records (owners, accounts, contacts) into a
// constant number of queries.
package dataloaders
