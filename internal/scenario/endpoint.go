package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Endpoint events. Each function builds one Windows event and renders it in
// the member's endpoint format. Workstations run Sysmon; Windows servers
// log process creation with Security 4688 (command-line auditing), except
// at members whose Elastic Agent runs Sysmon everywhere.

const (
	sidSystem = "S-1-5-18"
)

// sysmonOn reports whether h logs Sysmon events.
func (e *emitter) sysmonOn(h *host) bool {
	return h.kind == workstation || e.s.m.Telemetry.Endpoint == FormatECS
}

// spawn creates a process on h as a child of parent and logs its creation.
// user is DOMAIN\name; an empty user inherits the parent's.
func (e *emitter) spawn(t time.Time, h *host, parent *proc, b *executable, cmd, user string) *proc {
	p := e.newProc(h, parent, b, cmd, user)
	e.procStart(t, h, p)
	return p
}

// newProc creates a process without logging it.
func (e *emitter) newProc(h *host, parent *proc, b *executable, cmd, user string) *proc {
	return makeProc(e.r, h, parent, b, cmd, user)
}

// makeProc creates a process of binary b on h. An empty user inherits the
// parent's; an empty cmd is the quoted image path.
func makeProc(r *rand.Rand, h *host, parent *proc, b *executable, cmd, user string) *proc {
	if user == "" && parent != nil {
		user = parent.user
	}
	profile := "Public"
	if _, name, ok := strings.Cut(user, `\`); ok {
		profile = name
	}
	p := &proc{
		guid:      sysmonGUID(r, h.guidPart),
		pid:       1000 + 4*r.IntN(5000),
		bin:       b,
		hashes:    digestOf(b.path),
		image:     b.image(profile),
		cmd:       cmd,
		user:      user,
		integrity: "Medium",
		parent:    parent,
	}
	if parent != nil {
		p.logonID = parent.logonID
		p.integrity = parent.integrity
	}
	if strings.HasPrefix(user, "NT AUTHORITY") {
		p.integrity, p.logonID = "System", "0x3e7"
	}
	if p.logonID == "" {
		p.logonID = "0x" + strconv.FormatInt(int64(0x20000+r.IntN(0xfffff)), 16)
	}
	if p.cmd == "" {
		p.cmd = `"` + p.image + `"`
	}
	p.cwd = `C:\Windows\system32\`
	if !strings.HasPrefix(user, "NT AUTHORITY") {
		p.cwd = `C:\Users\` + profile + `\`
	}
	return p
}

// procStart logs the creation of p.
func (e *emitter) procStart(t time.Time, h *host, p *proc) {
	if e.sysmonOn(h) {
		e.sysmonProcess(t, h, p)
		return
	}
	e.securityProcess(t, h, p)
}

func (e *emitter) sysmonBase(t time.Time, id int, task string) *winEvent {
	return &winEvent{
		channel: chanSysmon, provider: provSysmon, provGUID: guidSysmon, id: id, task: task, version: 5,
		userSID: sidSystem, userName: "SYSTEM", userDomain: "NT AUTHORITY",
	}
}

func (e *emitter) sysmonProcess(t time.Time, h *host, p *proc) {
	ev := e.sysmonBase(t, 1, "Process Create (rule: ProcessCreate)")
	ev.message = "Process Create"
	ev.category, ev.typ, ev.ecsAction = "process", "start", "Process Create (rule: ProcessCreate)"
	parent := p.parent
	if parent == nil {
		parent = &proc{guid: sysmonGUID(e.r, h.guidPart), pid: 4, image: "System", cmd: "", user: `NT AUTHORITY\SYSTEM`}
	}
	d := p.hashes
	ev.data = []kv{
		{"RuleName", "-"},
		{"UtcTime", t.UTC().Format(sysmonUTC)},
		{"ProcessGuid", p.guid},
		{"ProcessId", strconv.Itoa(p.pid)},
		{"Image", p.image},
		{"FileVersion", p.bin.version},
		{"Description", p.bin.description},
		{"Product", p.bin.product},
		{"Company", p.bin.company},
		{"OriginalFileName", p.bin.original},
		{"CommandLine", p.cmd},
		{"CurrentDirectory", p.cwd},
		{"User", p.user},
		{"LogonGuid", sysmonGUID(e.r, h.guidPart)},
		{"LogonId", p.logonID},
		{"TerminalSessionId", sessionOf(p)},
		{"IntegrityLevel", p.integrity},
		{"Hashes", "MD5=" + strings.ToUpper(d.MD5) + ",SHA256=" + strings.ToUpper(d.SHA256) + ",IMPHASH=" + strings.ToUpper(d.Imphash)},
		{"ParentProcessGuid", parent.guid},
		{"ParentProcessId", strconv.Itoa(parent.pid)},
		{"ParentImage", parent.image},
		{"ParentCommandLine", parent.cmd},
		{"ParentUser", parent.user},
	}
	ev.ecs = func(w *jsonw) {
		ecsProcess(w, "process", p, true)
		ecsUser(w, p.user, "")
	}
	e.windowsEvent(t, h, ev)
}

// sessionOf returns the terminal session: 0 for services, 1 for users.
func sessionOf(p *proc) string {
	if strings.HasPrefix(p.user, "NT AUTHORITY") {
		return "0"
	}
	return "1"
}

// securityProcess logs Security event 4688 for p.
func (e *emitter) securityProcess(t time.Time, h *host, p *proc) {
	dom, name, _ := strings.Cut(p.user, `\`)
	parentImage := `C:\Windows\System32\services.exe`
	parentPID := 700
	if p.parent != nil {
		parentImage, parentPID = p.parent.image, p.parent.pid
	}
	label := map[string]string{"System": "S-1-16-16384", "High": "S-1-16-12288", "Medium": "S-1-16-8192"}[p.integrity]
	ev := &winEvent{
		channel: chanSecurity, provider: provSecurity, provGUID: guidSecurity, id: 4688, version: 2,
		task: "Process Creation", message: "A new process has been created.",
		category: "process", typ: "start", ecsAction: "created-process", outcome: "success",
		data: []kv{
			{"SubjectUserSid", sidSystem},
			{"SubjectUserName", strings.ToUpper(h.name) + "$"},
			{"SubjectDomainName", e.s.m.NetBIOS},
			{"SubjectLogonId", "0x3e7"},
			{"NewProcessId", "0x" + strconv.FormatInt(int64(p.pid), 16)},
			{"NewProcessName", p.image},
			{"TokenElevationType", "%%1936"},
			{"ProcessId", "0x" + strconv.FormatInt(int64(parentPID), 16)},
			{"CommandLine", p.cmd},
			{"TargetUserSid", "S-1-0-0"},
			{"TargetUserName", name},
			{"TargetDomainName", dom},
			{"TargetLogonId", p.logonID},
			{"ParentProcessName", parentImage},
			{"MandatoryLabel", label},
		},
	}
	ev.ecs = func(w *jsonw) {
		ecsProcess(w, "process", p, true)
		ecsUser(w, p.user, "")
	}
	e.windowsEvent(t, h, ev)
}

// procAccess logs Sysmon event 10: src opened a handle to target.
func (e *emitter) procAccess(t time.Time, h *host, src *proc, targetImage string, targetPID int, access, callTrace string) {
	if !e.sysmonOn(h) {
		return
	}
	ev := e.sysmonBase(t, 10, "Process accessed (rule: ProcessAccess)")
	ev.message = "Process accessed"
	ev.category, ev.typ, ev.ecsAction = "process", "access", "Process accessed (rule: ProcessAccess)"
	ev.data = []kv{
		{"RuleName", "-"},
		{"UtcTime", t.UTC().Format(sysmonUTC)},
		{"SourceProcessGUID", src.guid},
		{"SourceProcessId", strconv.Itoa(src.pid)},
		{"SourceThreadId", strconv.Itoa(4 + 4*e.r.IntN(4000))},
		{"SourceImage", src.image},
		{"TargetProcessGUID", sysmonGUID(e.r, h.guidPart)},
		{"TargetProcessId", strconv.Itoa(targetPID)},
		{"TargetImage", targetImage},
		{"GrantedAccess", access},
		{"CallTrace", callTrace},
		{"SourceUser", src.user},
		{"TargetUser", `NT AUTHORITY\SYSTEM`},
	}
	ev.ecs = func(w *jsonw) {
		ecsProcess(w, "process", src, false)
		ecsUser(w, src.user, "")
	}
	e.windowsEvent(t, h, ev)
}

// fileCreate logs Sysmon event 11: p created path.
func (e *emitter) fileCreate(t time.Time, h *host, p *proc, path string) {
	if !e.sysmonOn(h) {
		return
	}
	ev := e.sysmonBase(t, 11, "File created (rule: FileCreate)")
	ev.message = "File created"
	ev.category, ev.typ, ev.ecsAction = "file", "creation", "File created (rule: FileCreate)"
	ev.data = []kv{
		{"RuleName", "-"},
		{"UtcTime", t.UTC().Format(sysmonUTC)},
		{"ProcessGuid", p.guid},
		{"ProcessId", strconv.Itoa(p.pid)},
		{"Image", p.image},
		{"TargetFilename", path},
		{"CreationUtcTime", t.UTC().Format(sysmonUTC)},
		{"User", p.user},
	}
	ev.ecs = func(w *jsonw) {
		name := path[strings.LastIndexByte(path, '\\')+1:]
		w.obj("file")
		w.str("path", path)
		w.str("name", name)
		w.str("directory", path[:max(strings.LastIndexByte(path, '\\'), 0)])
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			w.str("extension", name[i+1:])
		}
		w.end()
		ecsProcess(w, "process", p, false)
		ecsUser(w, p.user, "")
	}
	e.windowsEvent(t, h, ev)
}

// dnsQuery logs Sysmon event 22: p resolved name to answers (empty when
// the name does not exist).
func (e *emitter) dnsQuery(t time.Time, h *host, p *proc, name string, answers []netip.Addr) {
	if !e.sysmonOn(h) {
		return
	}
	ev := e.sysmonBase(t, 22, "Dns query (rule: DnsQuery)")
	ev.message = "Dns query"
	ev.category, ev.typ, ev.ecsAction = "network", "connection,protocol,info", "Dns query (rule: DnsQuery)"
	status, results := "0", ""
	if len(answers) == 0 {
		status, results = "9003", "-"
	} else {
		var b strings.Builder
		for _, a := range answers {
			b.WriteString("::ffff:")
			b.WriteString(a.String())
			b.WriteString(";")
		}
		results = b.String()
	}
	ev.data = []kv{
		{"RuleName", "-"},
		{"UtcTime", t.UTC().Format(sysmonUTC)},
		{"ProcessGuid", p.guid},
		{"ProcessId", strconv.Itoa(p.pid)},
		{"QueryName", name},
		{"QueryStatus", status},
		{"QueryResults", results},
		{"Image", p.image},
		{"User", p.user},
	}
	ev.ecs = func(w *jsonw) {
		w.obj("dns")
		w.obj("question")
		w.str("name", name)
		w.str("type", "A")
		w.end()
		if len(answers) > 0 {
			w.arr("answers")
			for _, a := range answers {
				w.elemObj()
				w.str("data", a.String())
				w.str("type", "A")
				w.end()
			}
			w.endArr()
			w.arr("resolved_ip")
			for _, a := range answers {
				w.elemStr(a.String())
			}
			w.endArr()
		}
		w.end()
		w.obj("network")
		w.str("protocol", "dns")
		w.end()
		ecsProcess(w, "process", p, false)
		ecsUser(w, p.user, "")
	}
	e.windowsEvent(t, h, ev)
}

// netConn logs Sysmon event 3 for an outbound TCP connection of p.
func (e *emitter) netConn(t time.Time, h *host, p *proc, f *flow) {
	if !e.sysmonOn(h) {
		return
	}
	ev := e.sysmonBase(t, 3, "Network connection detected (rule: NetworkConnect)")
	ev.message = "Network connection detected"
	ev.category, ev.typ, ev.ecsAction = "network", "connection,start,protocol", "Network connection detected (rule: NetworkConnect)"
	dstName := f.domain
	if dstName == "" {
		if dh := e.s.byIP[f.dst]; dh != nil {
			dstName = dh.fqdn
		}
	}
	ev.data = []kv{
		{"RuleName", "-"},
		{"UtcTime", t.UTC().Format(sysmonUTC)},
		{"ProcessGuid", p.guid},
		{"ProcessId", strconv.Itoa(p.pid)},
		{"Image", p.image},
		{"User", p.user},
		{"Protocol", f.proto},
		{"Initiated", "true"},
		{"SourceIsIpv6", "false"},
		{"SourceIp", f.src.String()},
		{"SourceHostname", h.fqdn},
		{"SourcePort", strconv.Itoa(int(f.sport))},
		{"SourcePortName", "-"},
		{"DestinationIsIpv6", "false"},
		{"DestinationIp", f.dst.String()},
		{"DestinationHostname", orDash(dstName)},
		{"DestinationPort", strconv.Itoa(int(f.dport))},
		{"DestinationPortName", orDash(portName(f.dport))},
	}
	ev.ecs = func(w *jsonw) {
		w.obj("source")
		w.str("ip", f.src.String())
		w.int("port", int64(f.sport))
		w.str("domain", h.fqdn)
		w.end()
		w.obj("destination")
		w.str("ip", f.dst.String())
		w.int("port", int64(f.dport))
		w.strOpt("domain", dstName)
		w.end()
		w.obj("network")
		w.str("transport", f.proto)
		w.str("direction", "egress")
		w.str("type", "ipv4")
		w.str("community_id", communityID(f))
		w.end()
		ecsProcess(w, "process", p, false)
		ecsUser(w, p.user, "")
	}
	e.windowsEvent(t, h, ev)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// portName is the service name Sysmon prints for well-known ports.
func portName(p uint16) string {
	switch p {
	case 443:
		return "https"
	case 80:
		return "http"
	case 445:
		return "microsoft-ds"
	case 135:
		return "epmap"
	case 53:
		return "domain"
	}
	return ""
}

// logonTypeNames are the names Elastic gives the logon types.
var logonTypeNames = map[int]string{2: "Interactive", 3: "Network", 4: "Batch", 5: "Service", 7: "Unlock", 10: "RemoteInteractive", 11: "CachedInteractive"}

// logon logs Security 4624 (success) or 4625 (failure) on h for account
// user of type logonType, coming from srcIP/srcName ("-" when local).
func (e *emitter) logon(t time.Time, h *host, user, userSID string, logonType int, src netip.Addr, srcName string, ok bool) {
	dom, name, _ := strings.Cut(user, `\`)
	ip, port := "-", "-"
	if src.IsValid() {
		ip, port = src.String(), strconv.Itoa(49152+e.r.IntN(16000))
	}
	if srcName == "" {
		srcName = "-"
	}
	proc, pkg, lproc := `C:\Windows\System32\svchost.exe`, "Negotiate", "User32 "
	switch logonType {
	case 3:
		proc, pkg, lproc = "-", "Kerberos", "Kerberos"
		if e.r.IntN(5) == 0 || strings.HasPrefix(name, "adm-") && srcName != "-" {
			pkg, lproc = "NTLM", "NtLmSsp "
		}
	case 5:
		proc, pkg, lproc = `C:\Windows\System32\services.exe`, "Negotiate", "Advapi  "
	}
	ev := &winEvent{channel: chanSecurity, provider: provSecurity, provGUID: guidSecurity, category: "authentication", typ: "start"}
	if ok {
		ev.id, ev.version, ev.task = 4624, 2, "Logon"
		ev.message, ev.ecsAction, ev.outcome = "An account was successfully logged on.", "logged-in", "success"
		ev.data = []kv{
			{"SubjectUserSid", sidSystem},
			{"SubjectUserName", strings.ToUpper(h.name) + "$"},
			{"SubjectDomainName", e.s.m.NetBIOS},
			{"SubjectLogonId", "0x3e7"},
			{"TargetUserSid", userSID},
			{"TargetUserName", name},
			{"TargetDomainName", dom},
			{"TargetLogonId", "0x" + strconv.FormatInt(int64(0x100000+e.r.IntN(0xffffff)), 16)},
			{"LogonType", strconv.Itoa(logonType)},
			{"LogonProcessName", lproc},
			{"AuthenticationPackageName", pkg},
			{"WorkstationName", srcName},
			{"LogonGuid", guid(e.r)},
			{"TransmittedServices", "-"},
			{"LmPackageName", lmPackage(pkg)},
			{"KeyLength", keyLength(pkg)},
			{"ProcessId", "0x0"},
			{"ProcessName", proc},
			{"IpAddress", ip},
			{"IpPort", port},
			{"ImpersonationLevel", "%%1833"},
			{"RestrictedAdminMode", "-"},
			{"TargetOutboundUserName", "-"},
			{"TargetOutboundDomainName", "-"},
			{"VirtualAccount", "%%1843"},
			{"TargetLinkedLogonId", "0x0"},
			{"ElevatedToken", elevated(name)},
		}
	} else {
		ev.id, ev.version, ev.task = 4625, 0, "Logon"
		ev.message, ev.ecsAction, ev.outcome = "An account failed to log on.", "logon-failed", "failure"
		ev.data = []kv{
			{"SubjectUserSid", sidSystem},
			{"SubjectUserName", strings.ToUpper(h.name) + "$"},
			{"SubjectDomainName", e.s.m.NetBIOS},
			{"SubjectLogonId", "0x3e7"},
			{"TargetUserSid", "S-1-0-0"},
			{"TargetUserName", name},
			{"TargetDomainName", dom},
			{"Status", "0xc000006d"},
			{"FailureReason", "%%2313"},
			{"SubStatus", "0xc000006a"},
			{"LogonType", strconv.Itoa(logonType)},
			{"LogonProcessName", lproc},
			{"AuthenticationPackageName", pkg},
			{"WorkstationName", srcName},
			{"TransmittedServices", "-"},
			{"LmPackageName", "-"},
			{"KeyLength", "0"},
			{"ProcessId", "0x0"},
			{"ProcessName", proc},
			{"IpAddress", ip},
			{"IpPort", port},
		}
	}
	lt := logonTypeNames[logonType]
	ev.ecs = func(w *jsonw) {
		if src.IsValid() {
			w.obj("source")
			w.str("ip", src.String())
			w.strOpt("domain", strings.TrimPrefix(srcName, "-"))
			w.end()
		}
		ecsUser(w, user, userSID)
		w.obj("related")
		w.strs("user", []string{name})
		w.end()
		w.obj("logon")
		w.str("type", lt)
		w.end()
	}
	e.windowsEvent(t, h, ev)
}

func lmPackage(pkg string) string {
	if pkg == "NTLM" {
		return "NTLM V2"
	}
	return "-"
}

func keyLength(pkg string) string {
	if pkg == "NTLM" {
		return "128"
	}
	return "0"
}

// elevated is %%1842 (yes) for administrative accounts.
func elevated(name string) string {
	if strings.HasPrefix(name, "adm-") || strings.HasSuffix(name, "$") {
		return "%%1842"
	}
	return "%%1843"
}

// scriptBlock logs PowerShell 4104 for text run by p.
func (e *emitter) scriptBlock(t time.Time, h *host, p *proc, text, path string) {
	id := strings.Trim(strings.ToLower(guid(e.r)), "{}")
	ev := &winEvent{
		channel: chanPowerShell, provider: provPowerShell, provGUID: guidPowerShell, id: 4104, version: 1,
		task: "Execute a Remote Command", message: "Creating Scriptblock text (1 of 1):\n" + text + "\n\nScriptBlock ID: " + id + "\nPath: " + path,
		category: "process", typ: "info", ecsAction: "Execute a Remote Command",
		userSID: e.userSID(p.user), userName: accountName(p.user), userDomain: e.s.m.NetBIOS,
		data: []kv{
			{"MessageNumber", "1"},
			{"MessageTotal", "1"},
			{"ScriptBlockText", text},
			{"ScriptBlockId", id},
			{"Path", path},
		},
	}
	ev.ecs = func(w *jsonw) {
		w.obj("powershell")
		w.obj("file")
		w.str("script_block_id", id)
		w.str("script_block_text", text)
		w.end()
		w.int("sequence", 1)
		w.int("total", 1)
		w.end()
		if path != "" {
			w.obj("file")
			w.str("path", path)
			w.end()
		}
		ecsUser(w, p.user, "")
	}
	e.windowsEvent(t, h, ev)
}

// accountName returns the name part of DOMAIN\name.
func accountName(qualified string) string {
	if _, name, ok := strings.Cut(qualified, `\`); ok {
		return name
	}
	return qualified
}

// userSID finds the SID of a DOMAIN\name account of this member.
func (e *emitter) userSID(qualified string) string {
	_, name, _ := strings.Cut(qualified, `\`)
	for _, u := range e.s.users {
		if u.name == name {
			return u.sid
		}
	}
	for _, u := range e.s.admins {
		if u.name == name {
			return u.sid
		}
	}
	return sidSystem
}

// serviceInstall logs System 7045: a service was installed on h.
func (e *emitter) serviceInstall(t time.Time, h *host, name, image, account string) {
	ev := &winEvent{
		channel: chanSystem, provider: provSCM, provGUID: guidSCM, id: 7045, version: 0,
		task: "None", message: fmt.Sprintf("A service was installed in the system.\n\nService Name:  %s\nService File Name:  %s\nService Type:  user mode service\nService Start Type:  demand start\nService Account:  %s", name, image, account),
		category: "configuration", typ: "creation", ecsAction: "Service Installed",
		userSID: e.userSID(account), userName: account, userDomain: e.s.m.NetBIOS,
		data: []kv{
			{"ServiceName", name},
			{"ImagePath", image},
			{"ServiceType", "user mode service"},
			{"StartType", "demand start"},
			{"AccountName", "LocalSystem"},
		},
	}
	ev.ecs = func(w *jsonw) {
		w.obj("service")
		w.str("name", name)
		w.str("type", "user mode service")
		w.end()
	}
	e.windowsEvent(t, h, ev)
}
