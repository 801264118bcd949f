// Package csvio owns the CSV of record export and import: cells that
// spreadsheets cannot run as formulas, and bounded, row-numbered reading.
package csvio
