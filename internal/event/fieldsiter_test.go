package event

import (
	"slices"
	"testing"
)

// TestAppendFieldsAgreesWithFields checks that AppendFields yields what
// Fields does, in the same order, lists and emptied slots included.
func TestAppendFieldsAgreesWithFields(t *testing.T) {
	var e Event
	for round := range 3 {
		e.Reset()
		e.Set("host.name", "ws-1")
		e.Set("process.command_line", "cmd /c whoami")
		e.Add("source.ip", "10.0.0.1")
		e.Add("source.ip", "10.0.0.2")
		e.Set("custom.field", "x")
		e.Add("custom.list", "a")
		e.Add("custom.list", "b")
		if round > 0 {
			e.SetKey(HostName, "")
		}
		var want []Field
		e.Fields(func(name, value string) bool {
			want = append(want, Field{Key: name, Value: value})
			return true
		})
		got := e.AppendFields([]Field{{Key: "kept", Value: "y"}})
		if !slices.Equal(got[1:], want) || got[0].Key != "kept" || len(want) < 6 {
			t.Fatalf("round %d: AppendFields = %v, Fields gave %v", round, got, want)
		}
	}
}
