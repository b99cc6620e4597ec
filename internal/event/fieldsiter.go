package event

// AppendFields appends the event's fields to dst, in the order Fields
// calls its function with them, and returns the extended slice. A caller
// that visits every field of many events (the archive's block writer)
// then walks a slice instead of taking a call through a function value
// per field; reuse dst.
func (e *Event) AppendFields(dst []Field) []Field {
	e.eachSlot(func(k Key, v string) bool {
		dst = append(dst, Field{Key: keyNames[k], Value: v})
		return true
	})
	return append(dst, e.extras...)
}
