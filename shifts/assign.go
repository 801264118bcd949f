package shifts

import "slices"

// Choosing who gets the next record. The choices are pure functions of
// their inputs so the caller can hold whatever lock makes a turn its own
// (the round-robin state row) while it asks.

// NextInRotation returns the candidate that follows last in ascending id
// order, wrapping to the smallest id: the round-robin turn after last.
// When last is not a candidate (it left, or is not available now) the turn
// goes to the next id above it, so nobody is skipped or served twice
// because someone else was away. It returns 0 for no candidates.
func NextInRotation(candidates []int64, last int64) int64 {
	if len(candidates) == 0 {
		return 0
	}
	sorted := slices.Clone(candidates)
	slices.Sort(sorted)
	for _, c := range sorted {
		if c > last {
			return c
		}
	}
	return sorted[0]
}

// LeastLoaded returns the candidate with the smallest load (missing from
// load: 0); ties go to the smallest id so the answer is deterministic.
// It returns 0 for no candidates.
func LeastLoaded(candidates []int64, load map[int64]int) int64 {
	best, bestLoad := int64(0), 0
	for _, c := range candidates {
		l := load[c]
		if best == 0 || l < bestLoad || (l == bestLoad && c < best) {
			best, bestLoad = c, l
		}
	}
	return best
}
