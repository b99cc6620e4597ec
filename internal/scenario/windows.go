package scenario

import (
	"strconv"
	"strings"
	"time"
)

// kv is one EventData item of a Windows event, in schema order.
type kv struct{ k, v string }

// winEvent is one Windows event log record before it is rendered as
// winlogbeat JSON or as an Elastic Agent ECS document.
type winEvent struct {
	channel  string
	provider string
	provGUID string
	id       int
	task     string // the task name winlogbeat puts in event.action
	version  int
	data     []kv
	message  string
	// account the event is logged under (winlog.user); empty for Security.
	userSID, userName, userDomain string
	// ECS classification used by the Elastic Agent integrations.
	category, typ, outcome, ecsAction string
	// ecs writes the integration's ECS fields for this event.
	ecs func(w *jsonw)
}

const (
	chanSysmon     = "Microsoft-Windows-Sysmon/Operational"
	provSysmon     = "Microsoft-Windows-Sysmon"
	guidSysmon     = "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"
	chanSecurity   = "Security"
	provSecurity   = "Microsoft-Windows-Security-Auditing"
	guidSecurity   = "{54849625-5478-4994-a5ba-3e3b0328c30d}"
	chanPowerShell = "Microsoft-Windows-PowerShell/Operational"
	provPowerShell = "Microsoft-Windows-PowerShell"
	guidPowerShell = "{a0c1853b-5c40-4b15-8766-3cf1c58f985a}"
	chanSystem     = "System"
	provSCM        = "Service Control Manager"
	guidSCM        = "{555908d1-a6d7-4695-8e1e-26931d2012f4}"

	tsMilli     = "2006-01-02T15:04:05.000Z07:00"
	sysmonUTC   = "2006-01-02 15:04:05.000"
	winlogbeatV = "7.17.22"
	agentV      = "8.13.2"
)

// windowsEvent renders ev for host h at t in the member's endpoint format.
func (e *emitter) windowsEvent(t time.Time, h *host, ev *winEvent) {
	if e.s.m.Telemetry.Endpoint == FormatECS {
		e.emit(FormatECS, t, e.renderECS(t, h, ev), h.name)
		return
	}
	e.emit(FormatWindows, t, e.renderWinlogbeat(t, h, ev), h.name)
}

// recordID numbers a host's events in time order, as the event log does.
func (h *host) recordID(t time.Time) uint64 {
	// Four records a second on average, within a window of about four
	// months: monotonic and of a realistic magnitude.
	ms := uint64(t.UnixMilli()) % (1 << 34)
	return h.recordBase + ms/250
}

// renderWinlogbeat writes ev as winlogbeat 7.17 ships it without
// processors: event_data values are strings, event_id and record_id are
// numbers.
func (e *emitter) renderWinlogbeat(t time.Time, h *host, ev *winEvent) []byte {
	w := e.buf()
	w.begin()
	w.time("@timestamp", t, tsMilli)
	w.obj("agent")
	w.str("hostname", h.name)
	w.str("name", h.name)
	w.str("id", h.agentID)
	w.str("type", "winlogbeat")
	w.str("version", winlogbeatV)
	w.end()
	w.obj("ecs")
	w.str("version", "1.12.0")
	w.end()
	e.hostObj(w, h)
	w.obj("log")
	w.str("level", "information")
	w.end()
	w.obj("event")
	w.str("code", strconv.Itoa(ev.id))
	w.str("kind", "event")
	w.str("provider", ev.provider)
	w.str("action", ev.task)
	if ev.outcome != "" {
		w.str("outcome", ev.outcome)
	}
	w.time("created", t.Add(time.Duration(200+e.r.IntN(2500))*time.Millisecond), tsMilli)
	w.end()
	w.str("message", e.message(ev))
	w.obj("winlog")
	w.str("channel", ev.channel)
	w.str("computer_name", h.fqdn)
	w.int("event_id", int64(ev.id))
	w.str("provider_name", ev.provider)
	w.str("provider_guid", ev.provGUID)
	w.uint("record_id", h.recordID(t))
	w.str("api", "wineventlog")
	w.str("opcode", "Info")
	w.str("task", ev.task)
	w.int("version", int64(ev.version))
	w.obj("process")
	w.int("pid", int64(e.servicePID(h, ev)))
	w.obj("thread")
	w.int("id", int64(4+4*e.r.IntN(3000)))
	w.end()
	w.end()
	if ev.userSID != "" {
		w.obj("user")
		w.str("identifier", ev.userSID)
		w.str("name", ev.userName)
		w.str("domain", ev.userDomain)
		w.str("type", "User")
		w.end()
	}
	w.obj("event_data")
	for _, d := range ev.data {
		w.str(d.k, d.v)
	}
	w.end()
	w.end()
	w.end()
	return w.b
}

// servicePID is the process ID of the service that logs ev on h.
func (e *emitter) servicePID(h *host, ev *winEvent) int {
	switch ev.channel {
	case chanSecurity:
		return h.lsassPID
	case chanSysmon:
		return 3000 + int(h.recordBase%500)*4
	}
	return 1200 + int(h.recordBase%300)*4
}

// message renders the event's rendered-message text: a title line and the
// EventData items, the way the Sysmon manifest formats them.
func (e *emitter) message(ev *winEvent) string {
	var b strings.Builder
	b.WriteString(ev.message)
	if ev.channel != chanSysmon {
		return b.String()
	}
	b.WriteString(":")
	for _, d := range ev.data {
		b.WriteString("\n")
		b.WriteString(d.k)
		b.WriteString(": ")
		b.WriteString(d.v)
	}
	return b.String()
}

// hostObj writes the ECS host object of a Windows host.
func (e *emitter) hostObj(w *jsonw, h *host) {
	w.obj("host")
	w.str("name", h.fqdn)
	w.str("hostname", strings.ToLower(h.name))
	w.str("architecture", "x86_64")
	w.obj("os")
	w.str("family", "windows")
	w.str("platform", "windows")
	w.str("type", "windows")
	if h.kind == workstation {
		w.str("name", "Windows 10 Enterprise")
		w.str("kernel", "10.0.19041.3636 (WinBuild.160101.0800)")
		w.str("build", "19045.3636")
	} else {
		w.str("name", "Windows Server 2019 Standard")
		w.str("kernel", "10.0.17763.5458 (WinBuild.160101.0800)")
		w.str("build", "17763.5458")
	}
	w.str("version", "10.0")
	w.end()
	w.strs("ip", []string{h.ip.String()})
	w.end()
}

// renderECS writes ev as Elastic Agent's Windows and Sysmon integrations
// index it: ECS fields first, the raw event under winlog.
func (e *emitter) renderECS(t time.Time, h *host, ev *winEvent) []byte {
	dataset := "windows.sysmon_operational"
	module := "sysmon"
	switch ev.channel {
	case chanSecurity:
		dataset, module = "system.security", "security"
	case chanPowerShell:
		dataset, module = "windows.powershell_operational", "powershell"
	case chanSystem:
		dataset, module = "system.system", "system"
	}
	w := e.buf()
	w.begin()
	w.time("@timestamp", t, tsMilli)
	w.obj("agent")
	w.str("name", strings.ToLower(h.name))
	w.str("id", h.agentID)
	w.str("type", "filebeat")
	w.str("version", agentV)
	w.end()
	w.obj("data_stream")
	w.str("dataset", dataset)
	w.str("namespace", "default")
	w.str("type", "logs")
	w.end()
	w.obj("ecs")
	w.str("version", "8.11.0")
	w.end()
	w.obj("event")
	action := ev.ecsAction
	if action == "" {
		action = ev.task
	}
	w.str("action", action)
	w.strs("category", strings.Split(ev.category, ","))
	w.strs("type", strings.Split(ev.typ, ","))
	w.str("code", strconv.Itoa(ev.id))
	w.str("kind", "event")
	w.str("module", module)
	w.str("dataset", dataset)
	w.str("provider", ev.provider)
	w.strOpt("outcome", ev.outcome)
	w.time("created", t.Add(time.Duration(300+e.r.IntN(4000))*time.Millisecond), tsMilli)
	w.end()
	e.hostObj(w, h)
	w.obj("log")
	w.str("level", "information")
	w.end()
	if ev.ecs != nil {
		ev.ecs(w)
	}
	w.obj("winlog")
	w.str("channel", ev.channel)
	w.str("computer_name", h.fqdn)
	w.str("event_id", strconv.Itoa(ev.id))
	w.str("provider_name", ev.provider)
	w.str("provider_guid", ev.provGUID)
	w.str("record_id", strconv.FormatUint(h.recordID(t), 10))
	w.str("api", "wineventlog")
	w.str("opcode", "Info")
	w.str("task", ev.task)
	w.int("version", int64(ev.version))
	w.obj("event_data")
	for _, d := range ev.data {
		w.str(d.k, d.v)
	}
	w.end()
	w.end()
	w.end()
	return w.b
}

// ecsProcess writes an ECS process object (and its parent) for p.
func ecsProcess(w *jsonw, key string, p *proc, withParent bool) {
	w.obj(key)
	w.str("entity_id", p.guid)
	w.int("pid", int64(p.pid))
	w.str("executable", p.image)
	w.str("name", p.image[strings.LastIndexByte(p.image, '\\')+1:])
	if p.cmd != "" {
		w.str("command_line", p.cmd)
		args := splitArgs(p.cmd)
		w.strs("args", args)
		w.int("args_count", int64(len(args)))
	}
	w.strOpt("working_directory", p.cwd)
	if p.bin != nil {
		d := p.hashes
		w.obj("pe")
		w.str("original_file_name", p.bin.original)
		w.str("description", p.bin.description)
		w.str("product", p.bin.product)
		w.str("company", p.bin.company)
		w.str("file_version", p.bin.version)
		w.str("imphash", d.Imphash)
		w.end()
		w.obj("hash")
		w.str("md5", d.MD5)
		w.str("sha256", d.SHA256)
		w.end()
	}
	if withParent && p.parent != nil {
		ecsProcess(w, "parent", p.parent, false)
	}
	w.end()
}

// ecsUser writes the ECS user object for DOMAIN\name.
func ecsUser(w *jsonw, qualified, sid string) {
	dom, name, ok := strings.Cut(qualified, `\`)
	if !ok {
		dom, name = "", qualified
	}
	w.obj("user")
	w.strOpt("domain", dom)
	w.str("name", name)
	w.strOpt("id", sid)
	w.end()
}

// splitArgs splits a Windows command line into arguments the way
// CommandLineToArgvW does for the common cases (quotes group, backslashes
// are literal).
func splitArgs(cmd string) []string {
	var args []string
	var cur strings.Builder
	inQuote, has := false, false
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			has = true
		case (c == ' ' || c == '\t') && !inQuote:
			if has {
				args = append(args, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteByte(c)
			has = true
		}
	}
	if has {
		args = append(args, cur.String())
	}
	return args
}
