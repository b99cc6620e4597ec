package pattern

import "strings"

// fieldMap maps a STIX object path (type:property, list indexes written
// [*], hash names in STIX spelling) to the normalised event fields that
// carry the same value. A path matches when any of its fields does.
//
// The table is the whole contract between STIX patterns and xsoc events;
// EventFields exposes it. It is never modified.
var fieldMap = map[string][]string{
	"ipv4-addr:value": {"source.ip", "destination.ip", "host.ip", "client.ip", "server.ip"},
	"ipv6-addr:value": {"source.ip", "destination.ip", "host.ip", "client.ip", "server.ip"},
	"mac-addr:value":  {"source.mac", "destination.mac", "host.mac"},

	"domain-name:value":                     {"dns.question.name", "url.domain", "destination.domain", "tls.server.sni", "server.domain"},
	"domain-name:resolves_to_refs[*].value": {"dns.answers.data", "dns.resolved_ip"},

	"url:value": {"url.full", "url.original"},

	"file:name":                      {"file.name"},
	"file:size":                      {"file.size"},
	"file:parent_directory_ref.path": {"file.directory"},
	"file:hashes.MD5":                {"file.hash.md5", "process.hash.md5"},
	"file:hashes.SHA-1":              {"file.hash.sha1", "process.hash.sha1"},
	"file:hashes.SHA-256":            {"file.hash.sha256", "process.hash.sha256"},
	"file:hashes.SHA-512":            {"file.hash.sha512", "process.hash.sha512"},
	"directory:path":                 {"file.directory"},

	"process:command_line":                   {"process.command_line"},
	"process:name":                           {"process.name"},
	"process:pid":                            {"process.pid"},
	"process:cwd":                            {"process.working_directory"},
	"process:image_ref.name":                 {"process.name"},
	"process:image_ref.hashes.MD5":           {"process.hash.md5"},
	"process:image_ref.hashes.SHA-1":         {"process.hash.sha1"},
	"process:image_ref.hashes.SHA-256":       {"process.hash.sha256"},
	"process:parent_ref.name":                {"process.parent.name"},
	"process:parent_ref.command_line":        {"process.parent.command_line"},
	"process:parent_ref.pid":                 {"process.parent.pid"},
	"process:creator_user_ref.user_id":       {"user.name"},
	"process:creator_user_ref.account_login": {"user.name"},

	"network-traffic:src_ref.value":                                         {"source.ip"},
	"network-traffic:dst_ref.value":                                         {"destination.ip", "destination.domain"},
	"network-traffic:src_port":                                              {"source.port"},
	"network-traffic:dst_port":                                              {"destination.port"},
	"network-traffic:protocols[*]":                                          {"network.transport", "network.protocol"},
	"network-traffic:src_byte_count":                                        {"source.bytes"},
	"network-traffic:dst_byte_count":                                        {"destination.bytes"},
	"network-traffic:extensions.http-request-ext.request_method":            {"http.request.method"},
	"network-traffic:extensions.http-request-ext.request_value":             {"url.path", "url.original"},
	"network-traffic:extensions.http-request-ext.request_header.User-Agent": {"user_agent.original"},
	"network-traffic:extensions.http-request-ext.request_header.Host":       {"url.domain", "destination.domain"},

	"user-account:user_id":       {"user.name", "user.id"},
	"user-account:account_login": {"user.name"},
	"user-account:display_name":  {"user.full_name"},

	"email-addr:value":               {"email.from.address", "email.to.address", "email.cc.address", "email.sender.address"},
	"email-message:subject":          {"email.subject"},
	"email-message:from_ref.value":   {"email.from.address"},
	"email-message:sender_ref.value": {"email.sender.address"},
	"email-message:to_refs[*].value": {"email.to.address"},
	"email-message:cc_refs[*].value": {"email.cc.address"},
	"email-message:message_id":       {"email.message_id"},

	"windows-registry-key:key":            {"registry.path", "registry.key"},
	"windows-registry-key:values[*].name": {"registry.value"},
	"windows-registry-key:values[*].data": {"registry.data.strings"},

	"x509-certificate:subject":             {"tls.server.x509.subject.distinguished_name", "tls.server.x509.subject.common_name"},
	"x509-certificate:issuer":              {"tls.server.x509.issuer.distinguished_name", "tls.server.x509.issuer.common_name"},
	"x509-certificate:serial_number":       {"tls.server.x509.serial_number"},
	"x509-certificate:hashes.MD5":          {"tls.server.hash.md5"},
	"x509-certificate:hashes.SHA-1":        {"tls.server.hash.sha1"},
	"x509-certificate:hashes.SHA-256":      {"tls.server.hash.sha256"},
	"x509-certificate:validity_not_before": {"tls.server.x509.not_before"},
	"x509-certificate:validity_not_after":  {"tls.server.x509.not_after"},

	"autonomous-system:number": {"source.as.number", "destination.as.number"},
	"software:name":            {"package.name"},
	"software:version":         {"package.version"},
	"mutex:name":               {"process.mutex"},
}

// caseless lists the object paths whose values compare without regard to
// case: DNS names, e-mail addresses and hex digests.
func caseless(key string) bool {
	switch {
	case strings.HasPrefix(key, "domain-name:"), strings.HasPrefix(key, "email-addr:"),
		strings.Contains(key, "hashes."), strings.HasSuffix(key, "_ref.value") && strings.HasPrefix(key, "email-message:"),
		strings.HasSuffix(key, "_refs[*].value") && strings.HasPrefix(key, "email-message:"):
		return true
	}
	return false
}

// ipPath reports whether a path holds IP addresses, so that CIDR literals
// compare by containment.
func ipPath(key string) bool {
	switch key {
	case "ipv4-addr:value", "ipv6-addr:value", "network-traffic:src_ref.value", "network-traffic:dst_ref.value",
		"domain-name:resolves_to_refs[*].value":
		return true
	}
	return false
}

// mapKey is the fieldMap key of a path.
func mapKey(p Path) string {
	var b strings.Builder
	b.WriteString(p.Type)
	b.WriteByte(':')
	for i, s := range p.Steps {
		if s.IsIndex {
			b.WriteString("[*]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if i > 0 && p.Steps[i-1].Key == "hashes" {
			b.WriteString(HashName(s.Key))
		} else {
			b.WriteString(s.Key)
		}
	}
	return b.String()
}

// EventFields returns the event fields an object path is matched against,
// and false if xsoc events carry no such value.
func EventFields(p Path) ([]string, bool) {
	f, ok := fieldMap[mapKey(p)]
	return f, ok
}
