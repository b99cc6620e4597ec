package detect

import (
	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/event"
)

// observableFields lists the event fields lifted into alert observables.
var observableFields = [...]struct {
	key  event.Key
	typ  string // "" for IPs: ipv4-addr or ipv6-addr by value
	role string
}{
	{event.SourceIp, "", "source"},
	{event.DestinationIp, "", "destination"},
	{event.HostIp, "", "host"},
	{event.DnsQuestionName, "domain-name", "query"},
	{event.DestinationDomain, "domain-name", "destination"},
	{event.UrlDomain, "domain-name", "destination"},
	{event.TlsServerSni, "domain-name", "destination"},
	{event.UrlFull, "url", "destination"},
	{event.FileHashMd5, "file:hashes.MD5", "file"},
	{event.FileHashSha1, "file:hashes.'SHA-1'", "file"},
	{event.FileHashSha256, "file:hashes.'SHA-256'", "file"},
	{event.ProcessHashMd5, "file:hashes.MD5", "process"},
	{event.ProcessHashSha1, "file:hashes.'SHA-1'", "process"},
	{event.ProcessHashSha256, "file:hashes.'SHA-256'", "process"},
	{event.UserName, "user-account", "user"},
	{event.UserTargetName, "user-account", "target"},
	{event.EmailFromAddress, "email-addr", "source"},
	{event.EmailToAddress, "email-addr", "destination"},
	{event.HostName, "host", "host"},
}

// Observables lists the observable values an event carries — addresses,
// names, URLs, hashes, users, e-mail addresses, the host — as an alert
// records them. Detectors call it only when they raise an alert.
func Observables(ev *event.Event) []alert.Observable {
	var out []alert.Observable
	for _, f := range observableFields {
		v := ev.Key(f.key)
		if v == "" {
			continue
		}
		typ := f.typ
		if typ == "" {
			typ = "ipv4-addr"
			for i := 0; i < len(v); i++ {
				if v[i] == ':' {
					typ = "ipv6-addr"
					break
				}
			}
		}
		out = append(out, alert.Observable{Type: typ, Value: v, Role: f.role})
	}
	return out
}
