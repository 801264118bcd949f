package resolvers

import (
	"bytes"
	"encoding/json"
)

// plain turns a GraphQL input, as gqlgen decoded it into typed values, into
// plain JSON values (maps, slices, strings, json.Number, bools, nil) that
// the records parsers read. Keys present with null stay present: an update
// can tell "clear this field" from "leave it alone".
func plain[T any](in T) (T, error) {
	var out T
	b, err := json.Marshal(in)
	if err != nil {
		return out, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err = dec.Decode(&out)
	return out, err
}
