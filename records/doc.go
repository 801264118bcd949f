// Package records owns the record modules' shapes: their Go models, field
// metadata, and the parsing of filters, orderings, cursors and inputs into
// checked, SQL-free forms that db/ compiles and access/ reasons about.
package records
