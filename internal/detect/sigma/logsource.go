package sigma

import (
	"strconv"
	"strings"

	"github.com/xsoc/xsoc/internal/event"
)

// A logsource becomes an event predicate: an OR of alternatives, each an
// AND of field tests. Rules are grouped by logsource and a group is tried
// only on events its predicate accepts, so an event meets only the rules
// that can apply to it.

// srcTest is one field test of a logsource predicate.
type srcTest struct {
	field  string
	values []string // equal to one of these (case-insensitively); nil: present
	prefix bool     // values are prefixes
}

// srcAlt is one alternative: all tests hold.
type srcAlt []srcTest

// srcPred is a logsource predicate: any alternative holds. A nil predicate
// accepts every event.
type srcPred []srcAlt

func eq(field string, values ...string) srcTest { return srcTest{field: field, values: values} }
func present(field string) srcTest              { return srcTest{field: field} }
func prefix(field string, values ...string) srcTest {
	return srcTest{field: field, values: values, prefix: true}
}

const sysmonChannel = "Microsoft-Windows-Sysmon/Operational"

// sysmonCategories maps Windows categories to Sysmon event ids.
var sysmonCategories = map[string][]int{
	"process_creation":         {1},
	"file_change":              {2},
	"network_connection":       {3},
	"sysmon_status":            {4, 16},
	"process_termination":      {5},
	"driver_load":              {6},
	"image_load":               {7},
	"create_remote_thread":     {8},
	"raw_access_thread":        {9},
	"process_access":           {10},
	"file_event":               {11},
	"registry_event":           {12, 13, 14},
	"registry_add":             {12},
	"registry_delete":          {12},
	"registry_set":             {13},
	"registry_rename":          {14},
	"create_stream_hash":       {15},
	"pipe_created":             {17, 18},
	"wmi_event":                {19, 20, 21},
	"dns_query":                {22},
	"file_delete":              {23, 26},
	"clipboard_capture":        {24},
	"process_tampering":        {25},
	"file_delete_detected":     {26},
	"file_block_executable":    {27},
	"file_block_shredding":     {28},
	"file_executable_detected": {29},
	"sysmon_error":             {255},
}

// powershellCategories maps PowerShell categories to channel and event ids.
var powershellCategories = map[string]struct {
	channels []string
	ids      []int
}{
	"ps_module":                 {[]string{"Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"}, []int{4103}},
	"ps_script":                 {[]string{"Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"}, []int{4104}},
	"ps_classic_start":          {[]string{"Windows PowerShell"}, []int{400}},
	"ps_classic_provider_start": {[]string{"Windows PowerShell"}, []int{600}},
	"ps_classic_script":         {[]string{"Windows PowerShell"}, []int{800}},
}

// windowsServices maps Windows services to event log channels.
var windowsServices = map[string][]string{
	"application":            {"Application"},
	"application-experience": {"Microsoft-Windows-Application-Experience/Program-Telemetry", "Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant"},
	"applocker":              {"Microsoft-Windows-AppLocker/MSI and Script", "Microsoft-Windows-AppLocker/EXE and DLL", "Microsoft-Windows-AppLocker/Packaged app-Deployment", "Microsoft-Windows-AppLocker/Packaged app-Execution"},
	"appmodel-runtime":       {"Microsoft-Windows-AppModel-Runtime/Admin"},
	"appxdeployment-server":  {"Microsoft-Windows-AppXDeploymentServer/Operational"},
	"appxpackaging-om":       {"Microsoft-Windows-AppxPackaging/Operational"},
	"bitlocker":              {"Microsoft-Windows-BitLocker/BitLocker Management"},
	"bits-client":            {"Microsoft-Windows-Bits-Client/Operational"},
	"capi2":                  {"Microsoft-Windows-CAPI2/Operational"},
	"certificateservicesclient-lifecycle-system": {"Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational"},
	"codeintegrity-operational":                  {"Microsoft-Windows-CodeIntegrity/Operational"},
	"dhcp":                                       {"Microsoft-Windows-DHCP-Server/Operational"},
	"diagnosis-scripted":                         {"Microsoft-Windows-Diagnosis-Scripted/Operational"},
	"dns-client":                                 {"Microsoft-Windows-DNS Client Events/Operational"},
	"dns-server":                                 {"DNS Server"},
	"dns-server-analytic":                        {"Microsoft-Windows-DNS-Server/Analytical"},
	"dns-server-audit":                           {"Microsoft-Windows-DNS-Server/Audit"},
	"driver-framework":                           {"Microsoft-Windows-DriverFrameworks-UserMode/Operational"},
	"firewall-as":                                {"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"},
	"hyper-v-worker":                             {"Microsoft-Windows-Hyper-V-Worker"},
	"iis-configuration":                          {"Microsoft-IIS-Configuration/Operational"},
	"kernel-event-tracing":                       {"Microsoft-Windows-Kernel-EventTracing"},
	"kernel-shimengine":                          {"Microsoft-Windows-Kernel-ShimEngine/Operational", "Microsoft-Windows-Kernel-ShimEngine/Diagnostic"},
	"ldap":                                       {"Microsoft-Windows-LDAP-Client/Debug"},
	"lsa-server":                                 {"Microsoft-Windows-LSA/Operational"},
	"msexchange-management":                      {"MSExchange Management"},
	"ntfs":                                       {"Microsoft-Windows-Ntfs/Operational"},
	"ntlm":                                       {"Microsoft-Windows-NTLM/Operational"},
	"openssh":                                    {"OpenSSH/Operational"},
	"powershell":                                 {"Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"},
	"powershell-classic":                         {"Windows PowerShell"},
	"printservice-admin":                         {"Microsoft-Windows-PrintService/Admin"},
	"printservice-operational":                   {"Microsoft-Windows-PrintService/Operational"},
	"security":                                   {"Security"},
	"security-mitigations":                       {"Microsoft-Windows-Security-Mitigations/Kernel Mode", "Microsoft-Windows-Security-Mitigations/User Mode"},
	"sense":                                      {"Microsoft-Windows-SENSE/Operational"},
	"servicebus-client":                          {"Microsoft-ServiceBus-Client/Operational", "Microsoft-ServiceBus-Client/Admin"},
	"shell-core":                                 {"Microsoft-Windows-Shell-Core/Operational"},
	"smbclient-security":                         {"Microsoft-Windows-SmbClient/Security"},
	"sysmon":                                     {sysmonChannel},
	"system":                                     {"System"},
	"taskscheduler":                              {"Microsoft-Windows-TaskScheduler/Operational"},
	"terminalservices-localsessionmanager":       {"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"},
	"vhdmp":                                      {"Microsoft-Windows-VHDMP/Operational"},
	"windefend":                                  {"Microsoft-Windows-Windows Defender/Operational"},
	"wmi":                                        {"Microsoft-Windows-WMI-Activity/Operational"},
}

// etwCategories maps Windows categories collected through ETW to their
// provider.
var etwCategories = map[string]string{
	"file_access": "Microsoft-Windows-Kernel-File",
	"file_rename": "Microsoft-Windows-Kernel-File",
}

// windowsServiceModules are the event.module values xsoc's Windows parser
// gives whole channels.
var windowsServiceModules = map[string]string{
	"security": "security",
	"sysmon":   "sysmon",
}

// linuxServices maps Linux services (syslog programs) to process names.
var linuxServices = map[string][]string{
	"sshd":      {"sshd"},
	"sudo":      {"sudo"},
	"cron":      {"cron", "crond", "CRON"},
	"vsftpd":    {"vsftpd"},
	"clamav":    {"clamd", "freshclam", "clamav"},
	"guacamole": {"guacd", "guacamole"},
	"auth":      {"sshd", "sudo", "su", "login", "systemd-logind", "passwd", "useradd", "usermod", "groupadd"},
}

func itoas(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Itoa(id)
	}
	return out
}

var windowsAny = srcPred{
	{eq("host.os.type", "windows")},
	{eq("event.module", "sysmon", "security", "powershell", "windows")},
	{present("winlog.channel")},
}

// logsourcePredicate builds the predicate of a logsource. The second
// result is false when xsoc has no table entry for it and the predicate was
// derived generically from product and service.
func logsourcePredicate(ls Logsource) (srcPred, bool) {
	switch ls.Product {
	case "windows":
		return windowsPredicate(ls)
	case "linux", "macos":
		return unixPredicate(ls)
	case "zeek":
		if ls.Service != "" {
			return srcPred{{eq("event.module", "zeek"), eq("event.dataset", "zeek."+ls.Service)}}, true
		}
		return srcPred{{eq("event.module", "zeek")}}, true
	case "suricata":
		return srcPred{{eq("event.module", "suricata")}}, true
	}
	if ls.Product == "" && ls.Service == "" {
		switch ls.Category {
		case "dns":
			return srcPred{
				{eq("event.module", "zeek"), eq("event.dataset", "zeek.dns")},
				{eq("event.module", "suricata"), eq("suricata.eve.event_type", "dns")},
				{present("dns.question.name")},
			}, true
		case "proxy":
			return srcPred{
				{eq("event.module", "zeek"), eq("event.dataset", "zeek.http")},
				{eq("event.module", "suricata"), eq("suricata.eve.event_type", "http")},
				{eq("event.module", "squid", "zscaler", "bluecoat", "proxy")},
				{eq("event.category", "proxy")},
			}, true
		case "webserver":
			return srcPred{
				{eq("event.module", "apache", "nginx", "iis", "webserver")},
				{eq("event.category", "web")},
			}, true
		case "antivirus":
			// Scan results: ECS files them under event.category malware;
			// Microsoft Defender writes its own channel.
			return srcPred{
				{eq("event.category", "malware")},
				{eq("event.module", "antivirus", "defender", "windows_defender", "clamav")},
				{eq("winlog.channel", "Microsoft-Windows-Windows Defender/Operational")},
			}, true
		case "database":
			// SQL query logs.
			return srcPred{
				{eq("event.category", "database")},
				{eq("event.module", "database", "mysql", "postgresql", "mssql", "oracle", "mongodb")},
			}, true
		case "firewall":
			return srcPred{
				{eq("event.module", "zeek"), eq("event.dataset", "zeek.conn")},
				{eq("event.module", "suricata"), eq("suricata.eve.event_type", "flow")},
				{eq("event.module", "firewall", "pfsense", "iptables", "fortinet", "checkpoint", "panw", "cisco", "juniper", "sonicwall")},
				{eq("event.category", "firewall")},
			}, true
		}
	}
	return genericPredicate(ls), false
}

func windowsPredicate(ls Logsource) (srcPred, bool) {
	if ids, ok := sysmonCategories[ls.Category]; ok {
		codes := itoas(ids)
		p := srcPred{
			{eq("event.module", "sysmon"), eq("event.code", codes...)},
			{eq("winlog.channel", sysmonChannel), eq("winlog.event_id", codes...)},
		}
		switch ls.Category {
		case "process_creation":
			p = append(p,
				srcAlt{eq("event.module", "security"), eq("event.code", "4688")},
				srcAlt{eq("winlog.channel", "Security"), eq("winlog.event_id", "4688")},
				srcAlt{eq("event.category", "process"), eq("event.type", "start"), eq("host.os.type", "windows")})
		case "network_connection":
			p = append(p, srcAlt{eq("event.category", "network"), eq("event.type", "connection", "start"), eq("host.os.type", "windows")})
		case "dns_query":
			p = append(p, srcAlt{eq("event.category", "network"), present("dns.question.name"), eq("host.os.type", "windows")})
		}
		return p, true
	}
	if ps, ok := powershellCategories[ls.Category]; ok {
		codes := itoas(ps.ids)
		return srcPred{
			{eq("event.module", "powershell"), eq("event.code", codes...)},
			{eq("winlog.channel", ps.channels...), eq("winlog.event_id", codes...)},
		}, true
	}
	if provider, ok := etwCategories[ls.Category]; ok {
		return srcPred{
			{eq("winlog.provider_name", provider)},
			{eq("event.provider", provider)},
		}, true
	}
	if chans, ok := windowsServices[ls.Service]; ok {
		p := srcPred{{eq("winlog.channel", chans...)}}
		if m, ok := windowsServiceModules[ls.Service]; ok {
			p = append(p, srcAlt{eq("event.module", m)})
		}
		return p, true
	}
	if ls.Service != "" {
		// An unknown service: a channel of that name, or a dataset.
		return srcPred{
			{eq("winlog.channel", ls.Service)},
			{eq("event.dataset", "windows."+ls.Service)},
		}, false
	}
	// product windows alone, or an unknown category (ETW sources such as
	// file_access): every Windows event.
	return windowsAny, ls.Category == ""
}

func unixPredicate(ls Logsource) (srcPred, bool) {
	os := ls.Product
	switch ls.Category {
	case "process_creation":
		return srcPred{
			{eq("event.module", "sysmon"), eq("event.code", "1"), eq("host.os.type", os)},
			{eq("event.module", "auditd"), eq("event.action", "executed")},
			{eq("event.category", "process"), eq("event.type", "start"), eq("host.os.type", os)},
		}, true
	case "file_event":
		return srcPred{
			{eq("event.module", "sysmon"), eq("event.code", "11"), eq("host.os.type", os)},
			{eq("event.category", "file"), eq("event.type", "creation"), eq("host.os.type", os)},
		}, true
	case "network_connection":
		return srcPred{
			{eq("event.module", "sysmon"), eq("event.code", "3"), eq("host.os.type", os)},
			{eq("event.category", "network"), eq("event.type", "connection", "start"), eq("host.os.type", os)},
		}, true
	}
	switch ls.Service {
	case "":
		return srcPred{{eq("host.os.type", os)}, {eq("event.module", "syslog", "auditd")}}, ls.Category == ""
	case "auditd":
		return srcPred{{eq("event.module", "auditd")}}, true
	case "syslog":
		return srcPred{{eq("event.module", "syslog")}}, true
	}
	if names, ok := linuxServices[ls.Service]; ok {
		return srcPred{
			{eq("event.module", "syslog"), eq("process.name", names...)},
			{eq("event.dataset", "syslog."+ls.Service)},
		}, true
	}
	return srcPred{
		{eq("event.module", "syslog"), eq("process.name", ls.Service)},
		{eq("event.dataset", ls.Product+"."+ls.Service)},
	}, false
}

// genericPredicate routes an unknown logsource by event.module and
// event.dataset: product p and service s accept dataset "p.s" or module
// s; product p alone accepts module p or a dataset "p.*". A category alone
// cannot be routed: such rules see every event.
func genericPredicate(ls Logsource) srcPred {
	switch {
	case ls.Product != "" && ls.Service != "":
		return srcPred{
			{eq("event.dataset", ls.Product+"."+ls.Service)},
			{eq("event.module", ls.Service)},
			{eq("event.module", ls.Product), eq("event.provider", ls.Service)},
		}
	case ls.Product != "":
		return srcPred{
			{eq("event.module", ls.Product)},
			{prefix("event.dataset", ls.Product+".")},
		}
	case ls.Service != "":
		return srcPred{
			{eq("event.module", ls.Service)},
			{prefix("event.dataset", ls.Service)},
		}
	}
	return nil
}

// compiledTest is a srcTest with its field resolved.
type compiledTest struct {
	ref    event.Ref
	values []string
	prefix bool
}

func (t *compiledTest) holds(ev *event.Event) bool {
	v, ok := ev.Lookup(t.ref)
	if !ok {
		return false
	}
	if t.values == nil {
		return true
	}
	for _, want := range t.values {
		if t.prefix {
			if len(v) >= len(want) && equalFold(v[:len(want)], want) {
				return true
			}
		} else if equalFold(v, want) {
			return true
		}
	}
	return false
}

// describe renders a predicate for documentation and Explain.
func (p srcPred) describe() string {
	if p == nil {
		return "every event"
	}
	var alts []string
	for _, a := range p {
		var tests []string
		for _, t := range a {
			switch {
			case t.values == nil:
				tests = append(tests, t.field+" present")
			case t.prefix:
				tests = append(tests, t.field+" starts with "+strings.Join(t.values, "|"))
			default:
				tests = append(tests, t.field+"="+strings.Join(t.values, "|"))
			}
		}
		alts = append(alts, "("+strings.Join(tests, " and ")+")")
	}
	return strings.Join(alts, " or ")
}

// DescribeLogsource explains in words which events a logsource selects
// and whether xsoc knows it or routed it generically.
func DescribeLogsource(ls Logsource) string {
	p, known := logsourcePredicate(ls)
	s := p.describe()
	if !known {
		s += " (not in xsoc's logsource table: routed generically)"
	}
	return s
}
