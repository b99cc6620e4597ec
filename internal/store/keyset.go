package store

import (
	"fmt"
	"strings"
)

// Order is the order of a list paged by keyset: one of the list's sort
// keys and a direction. Each list (alerts, incidents) names its keys, the
// first being its default, newest first; its cursors name the order they
// belong to, so that a cursor used with another order is refused rather
// than skipping or repeating rows.
type Order struct {
	Key string
	Asc bool
}

// ParseOrder reads a sort key, one of keys ("" is keys[0]), and an order
// ("asc", or "desc" or "" for newest first) from a client. The error
// names what is accepted; callers wrap it in their own invalid-input
// error.
func ParseOrder(keys []string, key, order string) (Order, error) {
	var o Order
	switch order {
	case "", "desc":
	case "asc":
		o.Asc = true
	default:
		return Order{}, fmt.Errorf("order %q is not asc or desc", order)
	}
	if key == "" {
		key = keys[0]
	}
	for _, k := range keys {
		if k == key {
			o.Key = k
			return o, nil
		}
	}
	return Order{}, fmt.Errorf("sort %q is not one of %s", key, strings.Join(keys, ", "))
}

// Names lists keys as strings, for ParseOrder and ReadCursor.
func Names[K ~string](keys []K) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}

// String is the order as a client writes it: "severity desc".
func (o Order) String() string {
	if o.Asc {
		return o.Key + " asc"
	}
	return o.Key + " desc"
}

// Cursor encodes the position after a row whose sort value is value and
// whose id is id: "severity.desc.3.<id>", and in the default order (def,
// descending) the bare id, as before lists were sorted, so that saved
// cursors still work.
func (o Order) Cursor(def, value, id string) string {
	if o.Key == def && !o.Asc {
		return id
	}
	return o.Key + "." + strings.Fields(o.String())[1] + "." + value + "." + id
}

// ReadCursor checks a client's cursor c against o, a list of keys whose
// row ids validID accepts, and returns the sort value and id it holds
// ("", "" for no cursor). The value is the caller's to check.
func (o Order) ReadCursor(keys []string, validID func(string) bool, c string) (value, id string, err error) {
	if c == "" {
		return "", "", nil
	}
	def := Order{Key: keys[0]}
	if validID(c) {
		if o != def {
			return "", "", fmt.Errorf("cursor belongs to sort %s, not %s: start again without the cursor", def, o)
		}
		return "", c, nil
	}
	parts := strings.Split(c, ".")
	if len(parts) != 4 || !validID(parts[3]) {
		return "", "", fmt.Errorf("cursor %q is not a page cursor", c)
	}
	got, err := ParseOrder(keys, parts[0], parts[1])
	if err != nil || got == def {
		return "", "", fmt.Errorf("cursor %q is not a page cursor", c)
	}
	if got != o {
		return "", "", fmt.Errorf("cursor belongs to sort %s, not %s: start again without the cursor", got, o)
	}
	return parts[2], parts[3], nil
}
