package db

import "warden/access"

// VisibleFromEngine is the engine's visible set of a module in the form a
// list plans with, given the engine's count of the module's records.
func VisibleFromEngine(v access.VisibleSet, moduleCount uint64) Visible {
	return Visible{All: v.All, IDs: v.IDs, ModuleCount: int(moduleCount), ModuleCountKnown: true}
}
