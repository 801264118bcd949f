package shifts

import "testing"

func TestAssignNextInRotation(t *testing.T) {
	tests := []struct {
		name       string
		candidates []int64
		last       int64
		want       int64
	}{
		{"no candidates", nil, 3, 0},
		{"first turn goes to the smallest id", []int64{30, 10, 20}, 0, 10},
		{"next id after the last", []int64{10, 20, 30}, 10, 20},
		{"wraps after the largest", []int64{10, 20, 30}, 30, 10},
		{"last away: the next id above it", []int64{10, 30}, 20, 30},
		{"last away and largest: wraps", []int64{10, 20}, 25, 10},
		{"single candidate gets every turn", []int64{7}, 7, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NextInRotation(tc.candidates, tc.last); got != tc.want {
				t.Errorf("NextInRotation(%v, %d) = %d, want %d", tc.candidates, tc.last, got, tc.want)
			}
		})
	}
	t.Run("a full cycle serves everyone once", func(t *testing.T) {
		cands := []int64{5, 1, 9, 3}
		seen := map[int64]int{}
		last := int64(0)
		for range 4 * 25 {
			last = NextInRotation(cands, last)
			seen[last]++
		}
		for _, c := range cands {
			if seen[c] != 25 {
				t.Errorf("member %d served %d times, want 25 (%v)", c, seen[c], seen)
			}
		}
	})
}

func TestAssignLeastLoaded(t *testing.T) {
	tests := []struct {
		name       string
		candidates []int64
		load       map[int64]int
		want       int64
	}{
		{"no candidates", nil, nil, 0},
		{"fewest wins", []int64{1, 2, 3}, map[int64]int{1: 4, 2: 1, 3: 2}, 2},
		{"missing load is zero", []int64{1, 2}, map[int64]int{1: 1}, 2},
		{"tie goes to the smallest id", []int64{9, 4, 6}, map[int64]int{9: 1, 4: 1, 6: 1}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LeastLoaded(tc.candidates, tc.load); got != tc.want {
				t.Errorf("LeastLoaded = %d, want %d", got, tc.want)
			}
		})
	}
}
