package records

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// OrderKey is one key of a list's ordering.
type OrderKey struct {
	Operand Operand
	Desc    bool
}

// Order is a list's ordering; the record id always breaks ties, in the
// direction of the last key.
type Order []OrderKey

// DefaultOrder is the newest change first.
func DefaultOrder(meta *Meta) Order {
	return Order{{Operand: Operand{Field: meta.Field("updatedAt")}, Desc: true}}
}

const maxOrderKeys = 5

// ParseOrder checks a module's orderBy input.
func ParseOrder(meta *Meta, custom []*CustomField, raw []map[string]any) (Order, error) {
	if len(raw) == 0 {
		return DefaultOrder(meta), nil
	}
	if len(raw) > maxOrderKeys {
		return nil, NewInputError("orderBy has more than %d keys", maxOrderKeys)
	}
	var out Order
	for _, item := range raw {
		enum, _ := item["field"].(string)
		cf, _ := item["customField"].(string)
		if (enum == "") == (cf == "") {
			return nil, NewInputError("each orderBy item names exactly one of field and customField")
		}
		key := OrderKey{}
		if dir, _ := item["direction"].(string); dir == "DESC" {
			key.Desc = true
		}
		if enum != "" {
			f := meta.FieldByOrderEnum(enum)
			if f == nil {
				return nil, NewInputError("cannot order by %q", enum)
			}
			key.Operand = Operand{Field: f}
		} else {
			for _, c := range custom {
				if c.APIName == cf {
					key.Operand = Operand{Custom: c}
				}
			}
			if key.Operand.Custom == nil {
				return nil, NewInputError("unknown custom field %q", cf)
			}
		}
		out = append(out, key)
	}
	return out, nil
}

// Signature identifies an ordering, so a cursor made under one ordering is
// refused under another.
func (o Order) Signature() string {
	var b strings.Builder
	for _, k := range o {
		if k.Operand.Custom != nil {
			b.WriteString("c:" + k.Operand.Custom.APIName)
		} else {
			b.WriteString(k.Operand.Field.Name)
		}
		if k.Desc {
			b.WriteString("-")
		}
		b.WriteString(",")
	}
	return b.String()
}

// Cursor is a position in an ordered list: the sort key values of the last
// row seen and its id.
type Cursor struct {
	Org    int64  `json:"o"`
	Module string `json:"m"`
	Sig    string `json:"s"`
	Values []any  `json:"v"`
	ID     int64  `json:"i"`
}

// CursorCodec signs cursors so that a client cannot forge a position, and a
// cursor of one org, module or ordering is refused in another.
type CursorCodec struct{ Secret []byte }

// Encode returns the opaque cursor string.
func (c CursorCodec) Encode(cur Cursor) string {
	body, _ := json.Marshal(cur)
	mac := hmac.New(sha256.New, c.Secret)
	mac.Write(body)
	sum := mac.Sum(nil)[:16]
	return base64.RawURLEncoding.EncodeToString(append(sum, body...))
}

// Decode checks and reads a cursor made for this org, module and ordering.
func (c CursorCodec) Decode(s string, org int64, module string, order Order) (Cursor, error) {
	return c.decode(s, org, module, order.Signature(), order)
}

func (c CursorCodec) decode(s string, org int64, module, sig string, order Order) (Cursor, error) {
	bad := NewInputError("invalid cursor: use an endCursor from the same query")
	if len(s) > 2048 {
		return Cursor{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 17 {
		return Cursor{}, bad
	}
	mac := hmac.New(sha256.New, c.Secret)
	mac.Write(raw[16:])
	if !hmac.Equal(raw[:16], mac.Sum(nil)[:16]) {
		return Cursor{}, bad
	}
	var cur Cursor
	dec := json.NewDecoder(strings.NewReader(string(raw[16:])))
	dec.UseNumber()
	if err := dec.Decode(&cur); err != nil {
		return Cursor{}, bad
	}
	if cur.Org != org || cur.Module != module || cur.Sig != sig || len(cur.Values) != len(order) {
		return Cursor{}, bad
	}
	for i, k := range order {
		v, err := cursorValue(k.Operand, cur.Values[i])
		if err != nil {
			return Cursor{}, bad
		}
		cur.Values[i] = v
	}
	return cur, nil
}

// cursorValue restores a sort key value from its JSON form.
func cursorValue(op Operand, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch op.Kind() {
	case KindTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("time")
		}
		return time.Parse(time.RFC3339Nano, s)
	case KindDate:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("date")
		}
		return ParseDate(s)
	case KindFloat, KindInt:
		f, ok := toFloat(v)
		if !ok {
			return nil, fmt.Errorf("number")
		}
		if op.Kind() == KindInt {
			return int64(f), nil
		}
		return f, nil
	case KindBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("bool")
		}
		return b, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("string")
	}
	return s, nil
}

// MemberCursor is a position in a member list ordered by name, then id.
type MemberCursor struct {
	Name string
	ID   int64
}

// EncodeMember returns the cursor of a member row.
func (c CursorCodec) EncodeMember(org int64, name string, id int64) string {
	return c.Encode(Cursor{Org: org, Module: "MEMBERS", Sig: "name", Values: []any{name}, ID: id})
}

// DecodeMember checks and reads a member-list cursor of this org.
func (c CursorCodec) DecodeMember(s string, org int64) (MemberCursor, error) {
	nameOrder := Order{{Operand: Operand{Field: &Field{Name: "name"}}}}
	cur, err := c.decode(s, org, "MEMBERS", "name", nameOrder)
	if err != nil {
		return MemberCursor{}, err
	}
	name, _ := cur.Values[0].(string)
	return MemberCursor{Name: name, ID: cur.ID}, nil
}
