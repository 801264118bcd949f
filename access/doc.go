// Package access is the access engine: it owns who may see and change what.
package access
