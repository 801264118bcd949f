package db

// SetDenseChunkBounds sets the bounds of a dense scan's chunks for a test
// and returns a function that restores them.
func SetDenseChunkBounds(lo, hi int) (restore func()) {
	oldLo, oldHi := denseChunkMin, denseChunkMax
	denseChunkMin, denseChunkMax = lo, hi
	return func() { denseChunkMin, denseChunkMax = oldLo, oldHi }
}
