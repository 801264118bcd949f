// Package apperr owns the API's error codes and the one presenter that maps
// every error to a code and a message safe to show a client.
package apperr
