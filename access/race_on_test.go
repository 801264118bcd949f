//go:build race

package access

// raceEnabled: the race detector slows the randomized tests tenfold; they
// run fewer orgs under it (the concurrency test keeps its full size).
const raceEnabled = true
