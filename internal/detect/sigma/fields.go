package sigma

import (
	"strings"
)

// This file holds the field mapping pipelines: which xsoc event fields a
// Sigma field name stands for, per logsource. A Sigma field maps to a list
// of candidate event fields; the first candidate present in an event is the
// one tested. xsoc's input parsers keep every source field verbatim under a
// source prefix (winlog.event_data.<Name>, zeek.<log>.<field>,
// suricata.eve.<path>, cef.extensions.<key>) and add ECS fields where ECS
// has a name; events posted in plain ECS form carry only the ECS names.
//
// Where ECS has an exact equivalent, the ECS field comes first (it is a
// slotted field, the cheapest to read, and it is the only one plain-ECS
// events carry). Where the ECS form loses information — user.name drops
// the domain of "DOMAIN\user", registry.data.strings drops Sysmon's type
// prefix — the verbatim field comes first and ECS is the fallback.

// windowsECS maps Sysmon/Security field names to their exact ECS
// equivalent for Windows events.
var windowsECS = map[string]string{
	"CommandLine":         "process.command_line",
	"Image":               "process.executable",
	"ParentImage":         "process.parent.executable",
	"ParentCommandLine":   "process.parent.command_line",
	"ProcessId":           "process.pid",
	"ParentProcessId":     "process.parent.pid",
	"ProcessGuid":         "process.entity_id",
	"ParentProcessGuid":   "process.parent.entity_id",
	"CurrentDirectory":    "process.working_directory",
	"OriginalFileName":    "process.original_file_name",
	"Description":         "process.pe.description",
	"Product":             "process.pe.product",
	"Company":             "process.pe.company",
	"IntegrityLevel":      "process.integrity_level",
	"TargetFilename":      "file.path",
	"ImageLoaded":         "file.path",
	"QueryName":           "dns.question.name",
	"DestinationIp":       "destination.ip",
	"DestinationPort":     "destination.port",
	"DestinationHostname": "destination.domain",
	"SourceIp":            "source.ip",
	"SourcePort":          "source.port",
	"SourceHostname":      "source.domain",
	"Protocol":            "network.transport",
	"TargetObject":        "registry.path",
	"md5":                 "process.hash.md5",
	"sha1":                "process.hash.sha1",
	"sha256":              "process.hash.sha256",
	"Imphash":             "process.hash.imphash",
}

// windowsLossyECS maps fields whose ECS form is not exact: verbatim first.
var windowsLossyECS = map[string]string{
	"User":           "user.name",
	"Details":        "registry.data.strings",
	"TargetUserName": "user.target.name",
	"ServiceName":    "service.name",
}

// windowsSystem maps fields of the <System> header.
var windowsSystem = map[string][]string{
	"EventID":       {"winlog.event_id", "event.code"},
	"Channel":       {"winlog.channel"},
	"Provider_Name": {"winlog.provider_name"},
	"Computer":      {"winlog.computer_name", "host.name", "host.hostname"},
	"ComputerName":  {"winlog.computer_name", "host.name", "host.hostname"},
	"Hostname":      {"host.name", "host.hostname", "winlog.computer_name"},
	"Level":         {"log.level", "winlog.event_data.Level"},
}

// zeekECS maps Zeek field names to ECS.
var zeekECS = map[string]string{
	"id.orig_h":    "source.ip",
	"id.orig_p":    "source.port",
	"id.resp_h":    "destination.ip",
	"id.resp_p":    "destination.port",
	"proto":        "network.transport",
	"service":      "network.protocol",
	"query":        "dns.question.name",
	"qtype_name":   "dns.question.type",
	"rcode_name":   "dns.response_code",
	"answers":      "dns.answers.data",
	"host":         "url.domain",
	"uri":          "url.original",
	"method":       "http.request.method",
	"status_code":  "http.response.status_code",
	"user_agent":   "user_agent.original",
	"referrer":     "http.request.referrer",
	"server_name":  "tls.server.sni",
	"ja3":          "tls.client.ja3",
	"ja3s":         "tls.server.ja3s",
	"version":      "tls.version",
	"community_id": "network.community_id",
}

// webECS maps W3C/proxy/firewall/DNS field names (category proxy,
// webserver, firewall, dns) to ECS.
var webECS = map[string][]string{
	"c-uri":           {"url.original", "url.full"},
	"c-uri-query":     {"url.query"},
	"c-uri-stem":      {"url.path"},
	"c-uri-extension": {"url.extension"},
	"c-useragent":     {"user_agent.original"},
	"cs-user-agent":   {"user_agent.original"},
	"cs-host":         {"url.domain", "destination.domain"},
	"r-dns":           {"url.domain", "destination.domain"},
	"cs-method":       {"http.request.method"},
	"sc-status":       {"http.response.status_code"},
	"cs-referrer":     {"http.request.referrer"},
	"cs-referer":      {"http.request.referrer"},
	"cs-cookie":       {"http.request.cookie"},
	"cs-uri-stem":     {"url.path"},
	"cs-uri-query":    {"url.query"},
	"cs-uri":          {"url.original"},
	"cs-username":     {"user.name"},
	"c-ip":            {"source.ip"},
	"s-ip":            {"destination.ip"},
	"s-port":          {"destination.port"},
	"src_ip":          {"source.ip"},
	"src_port":        {"source.port"},
	"dst_ip":          {"destination.ip"},
	"dst_port":        {"destination.port"},
	"username":        {"user.name"},
	"query":           {"dns.question.name"},
	"answer":          {"dns.answers.data"},
	"record_type":     {"dns.question.type"},
}

// unixECS maps Sysmon-for-Linux/macOS field names to ECS.
var unixECS = map[string][]string{
	"Image":               {"process.executable"},
	"CommandLine":         {"process.command_line"},
	"ParentImage":         {"process.parent.executable"},
	"ParentCommandLine":   {"process.parent.command_line"},
	"CurrentDirectory":    {"process.working_directory"},
	"User":                {"user.name"},
	"LogonId":             {"user.id"},
	"ProcessId":           {"process.pid"},
	"ParentProcessId":     {"process.parent.pid"},
	"TargetFilename":      {"file.path"},
	"DestinationIp":       {"destination.ip"},
	"DestinationPort":     {"destination.port"},
	"SourceIp":            {"source.ip"},
	"SourcePort":          {"source.port"},
	"DestinationHostname": {"destination.domain"},
}

// keywordField is the pseudo field that keywords search: every field of
// the event and event.original.
const keywordField = "\x00keywords"

// FieldCandidates returns, in order of preference, the event fields that
// the Sigma field stands for in events of the logsource. The first present
// in an event is the one tested.
func FieldCandidates(ls Logsource, field string) []string {
	if field == "" {
		return []string{keywordField}
	}
	switch {
	case ls.Product == "windows":
		return windowsCandidates(field)
	case ls.Product == "zeek":
		return zeekCandidates(ls.Service, field)
	case ls.Product == "suricata":
		return appendNew([]string{"suricata.eve." + field}, webCandidates(field)...)
	case ls.Product == "linux" || ls.Product == "macos":
		return unixCandidates(ls, field)
	case ls.Category == "proxy" || ls.Category == "webserver" || ls.Category == "firewall" || ls.Category == "dns":
		return webCandidates(field)
	}
	return genericCandidates(ls, field)
}

func windowsCandidates(field string) []string {
	if c, ok := windowsSystem[field]; ok {
		return c
	}
	if strings.Contains(field, ".") {
		return []string{field} // already an ECS or dotted name
	}
	verbatim := "winlog.event_data." + field
	if ecs, ok := windowsECS[field]; ok {
		return []string{ecs, verbatim}
	}
	if ecs, ok := windowsLossyECS[field]; ok {
		return []string{verbatim, ecs}
	}
	return []string{verbatim}
}

func zeekCandidates(service, field string) []string {
	var out []string
	if service != "" {
		out = append(out, "zeek."+service+"."+field)
	}
	if ecs, ok := zeekECS[field]; ok {
		out = append(out, ecs)
	}
	return appendNew(out, field)
}

func webCandidates(field string) []string {
	return appendNew(append([]string(nil), webECS[field]...), field)
}

func unixCandidates(ls Logsource, field string) []string {
	out := append([]string(nil), unixECS[field]...)
	if ls.Service == "auditd" {
		out = append(out, "auditd.log."+field)
	}
	return appendNew(out, field)
}

func genericCandidates(ls Logsource, field string) []string {
	out := []string{field}
	if ls.Product != "" && ls.Service != "" {
		out = append(out, ls.Product+"."+ls.Service+"."+field)
	}
	if ls.Product != "" {
		out = append(out, ls.Product+"."+field)
	}
	return appendNew(nil, out...)
}

func appendNew(dst []string, more ...string) []string {
	for _, m := range more {
		dup := false
		for _, d := range dst {
			if d == m {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, m)
		}
	}
	return dst
}
