package detect

import (
	"reflect"
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

func TestObservables(t *testing.T) {
	var ev event.Event
	ev.SetKey(event.SourceIp, "10.0.0.1")
	ev.SetKey(event.DestinationIp, "2001:db8::1")
	ev.SetKey(event.DnsQuestionName, "evil.example")
	ev.SetKey(event.FileHashSha256, "ab")
	ev.SetKey(event.HostName, "ws1")
	ev.Set("process.command_line", "not an observable")
	want := []alert.Observable{
		{Type: "ipv4-addr", Value: "10.0.0.1", Role: "source"},
		{Type: "ipv6-addr", Value: "2001:db8::1", Role: "destination"},
		{Type: "domain-name", Value: "evil.example", Role: "query"},
		{Type: "file:hashes.'SHA-256'", Value: "ab", Role: "file"},
		{Type: "host", Value: "ws1", Role: "host"},
	}
	if got := Observables(&ev); !reflect.DeepEqual(got, want) {
		t.Errorf("Observables = %+v\nwant %+v", got, want)
	}
	if got := Observables(new(event.Event)); got != nil {
		t.Errorf("empty event: %+v", got)
	}
}
