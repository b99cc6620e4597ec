package format

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/xsoc/xsoc/internal/event"
)

// The Windows format accepts the JSON shapes that Windows event logs are
// shipped or exported in:
//
//   - winlogbeat / Elastic Agent: winlog.channel, winlog.event_id,
//     winlog.event_data.<Name>, ... next to ECS fields;
//   - XML converted to JSON (evtx_dump, xmltodict, Get-WinEvent exports):
//     Event.System.* and Event.EventData, with the data either as members
//     (EventData.CommandLine) or as a Data list of {"@Name","#text"};
//     #attributes and #text wrappers and @ prefixes are looked through;
//   - flat records: EventID, Channel, Computer, TimeCreated next to either
//     an EventData object, an EvtxECmd Payload (a JSON string holding
//     EventData) or the event data fields themselves (nxlog, EvtxECmd with
//     expanded payload).
//
// Every event data item is kept as winlog.event_data.<Name>, the names
// Sigma rules use (without spaces), and mapped to ECS where ECS has a
// name; unnamed values are param1, param2, ... and together the list
// winlog.event_data.Data.

// winRecord holds what the mapping needs once the whole record has been
// seen.
type winRecord struct {
	eventID, altID, channel, provider, computer span
	ts                                          span
	tsRank                                      int
	payload                                     span // EvtxECmd Payload, a JSON string
	beats                                       bool // winlogbeat form
	container                                   bool // the event data is in its own object
	module                                      string
	id                                          int  // the event id
	valueEvent                                  int8 // registry value event: 0 unknown, 1 yes, -1 no

	// Grouping of EventData.Data items: a name and a value that belong to
	// the same JSON object are one item.
	group    int32
	name     []byte
	val      span
	hasVal   bool
	unnamed  int
	hasGroup bool
}

// Time field ranks: the most precise source of the event's time wins.
const (
	rankTimestampLower = 1 + iota // timestamp
	rankUtcTime                   // Sysmon's UtcTime event data
	rankEventTime                 // nxlog EventTime, TimeGenerated
	rankAtTimestamp               // @timestamp (winlogbeat)
	rankTimeCreated               // TimeCreated as a string
	rankSystemTime                // TimeCreated.SystemTime
)

// parseWindows maps a Windows event log record.
func (p *Parser) parseWindows(line []byte) error {
	if err := p.decodeJSON(line); err != nil {
		return err
	}
	return p.mapWindows()
}

// mapWindows maps the decoded leaves of a Windows record.
func (p *Parser) mapWindows() error {
	r := winRecord{group: -1}
	p.items = p.items[:0]
	p.winShape(&r)
	n := len(p.leaves)
	for i := 0; i < n; i++ {
		p.winLeaf(p.leaves[i], &r)
	}
	p.winFlushGroup(&r)
	if !r.payload.empty() {
		p.winPayload(&r)
	}
	return p.winFinish(&r)
}

// winShape finds out which of the shapes the record has.
// It switches on a path's first byte before comparing prefixes: most
// paths match none, and five prefix calls per leaf were a twentieth of
// parsing a winlogbeat record. It stops at the first winlog.* leaf: a
// winlogbeat record's leaves are all mapped by name (winLeaf returns for
// each before it looks at container), so whether it also has an event
// data object does not matter, and the walk of the remaining leaves was
// wasted on every winlogbeat record.
func (p *Parser) winShape(r *winRecord) {
	for _, l := range p.leaves {
		path := p.paths[l.path.lo:l.path.hi]
		if len(path) == 0 {
			continue
		}
		switch path[0] {
		case 'w':
			r.beats = r.beats || hasPrefix(path, "winlog.")
		case 'E':
			r.container = r.container || hasPrefix(path, "EventData") || hasPrefix(path, "Event.EventData") ||
				hasPrefix(path, "Event.UserData")
		case 'U':
			r.container = r.container || hasPrefix(path, "UserData")
		case 'P':
			r.container = r.container || string(path) == "Payload"
		}
		if r.beats {
			return
		}
	}
}

// hasPrefix is bytes.HasPrefix for a constant prefix, which the compiler
// compares inline instead of calling bytes.Equal.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// winLeaf classifies one leaf of the record.
func (p *Parser) winLeaf(l leaf, r *winRecord) {
	b := &p.b
	raw := p.paths[l.path.lo:l.path.hi]
	switch {
	case string(raw) == event.FieldTimestamp:
		r.offerTime(l.val, rankAtTimestamp)
		return
	case hasPrefix(raw, "winlog."):
		p.winBeatsField(raw[len("winlog."):], l.val, r)
		return
	case r.beats:
		// The ECS fields beside winlog.*: kept under their own names,
		// except those the caller owns.
		switch string(raw) {
		case event.FieldID, event.FieldMember, event.FieldIngested, event.FieldOriginal, "":
		default:
			b.dynamic(b.addName(raw), l.val)
		}
		return
	}
	n := p.winPath(raw)
	if xmlNamespace(n) {
		return
	}
	switch {
	case bytes.HasPrefix(n, []byte("System.")):
		if !p.winSystem(n[len("System."):], l.val, r) {
			p.winKeep(raw, n, l.val)
		}
	case string(n) == "EventData" || bytes.HasPrefix(n, []byte("EventData.")):
		p.winEventData(n, l, r)
	case bytes.HasPrefix(n, []byte("UserData.")):
		// UserData.<Element>.<Name>: the element names the event.
		name := n[len("UserData."):]
		if i := bytes.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		p.winData(name, l.val)
	case string(n) == "RenderingInfo.Message":
		b.key(event.Message, l.val)
	case string(n) == "Payload" && l.kind == kindString:
		r.payload = l.val
	case string(n) == "Properties.Value" || string(n) == "Properties":
		p.winUnnamed(l.val, r)
	case p.winSystem(n, l.val, r):
	case r.container:
		switch string(n) {
		case "ProcessId":
			b.named("winlog.process.pid", l.val)
		case "ThreadId":
			b.named("winlog.process.thread.id", l.val)
		default:
			p.winKeep(raw, n, l.val)
		}
	default:
		// A flat record: the event data fields are top-level.
		p.winData(n, l.val)
		if string(n) == "UtcTime" {
			r.offerTime(l.val, rankUtcTime)
		}
	}
}

// winKeep keeps a field the mapping does not know under its own name.
func (p *Parser) winKeep(raw, norm []byte, v span) {
	if len(norm) > 0 {
		p.b.dynamic(p.b.addName(norm), v)
	} else if len(raw) > 0 {
		p.b.dynamic(p.b.addName(raw), v)
	}
}

// offerTime records v as the event's time if it comes from a better
// source than the time found so far.
func (r *winRecord) offerTime(v span, rank int) {
	if rank > r.tsRank && !v.empty() {
		r.ts, r.tsRank = v, rank
	}
}

// winPath rewrites a leaf path into p.norm without the leading "Event.",
// without "#attributes" and "#text" segments and without the "@" of
// attribute names, so that the XML-to-JSON conventions of the various
// exporters all look alike.
func (p *Parser) winPath(path []byte) []byte {
	p.norm = p.norm[:0]
	path = bytes.TrimPrefix(path, []byte("Event."))
	for len(path) > 0 {
		seg, rest, _ := bytes.Cut(path, []byte("."))
		path = rest
		if string(seg) == "#attributes" || string(seg) == "#text" {
			continue
		}
		seg = bytes.TrimPrefix(seg, []byte("@"))
		if len(p.norm) > 0 {
			p.norm = append(p.norm, '.')
		}
		p.norm = append(p.norm, seg...)
	}
	return p.norm
}

// xmlNamespace reports whether a normalised path is an XML namespace
// declaration (xmlns, xmlns:x), which says nothing about the event.
func xmlNamespace(n []byte) bool {
	last := n[bytes.LastIndexByte(n, '.')+1:]
	return bytes.HasPrefix(last, []byte("xmlns"))
}

// winBeatsField maps a winlog.* field of the winlogbeat shape.
func (p *Parser) winBeatsField(name []byte, v span, r *winRecord) {
	b := &p.b
	switch {
	case hasPrefix(name, "event_data."):
		p.winData(name[len("event_data."):], v)
		if string(name) == "event_data.UtcTime" {
			r.offerTime(v, rankUtcTime)
		}
		return
	case hasPrefix(name, "user_data."):
		if string(name) != "user_data.xml_name" {
			p.winData(name[len("user_data."):], v)
		}
		return
	}
	switch string(name) {
	case "event_id":
		r.eventID = v
	case "channel":
		r.channel = v
	case "provider_name":
		r.provider = v
	case "computer_name":
		r.computer = v
	case "logon.type":
		b.key(event.WinlogLogonType, v)
	default:
		b.dynamic(b.joinName("winlog.", name), v)
	}
}

// winSystem maps a System field (or its flat equivalent) and reports
// whether name is one.
func (p *Parser) winSystem(name []byte, v span, r *winRecord) bool {
	b := &p.b
	switch string(name) {
	case "EventID", "EventId":
		r.eventID = v
	case "Id":
		r.altID = v // Get-WinEvent's name, used when there is no EventID
	case "EventID.Qualifiers", "Qualifiers":
		b.named("winlog.event_id_qualifiers", v)
	case "Channel", "LogName":
		r.channel = v
	case "Computer", "MachineName", "Hostname":
		r.computer = v
	case "Provider.Name", "Provider", "ProviderName", "SourceName":
		r.provider = v
	case "Provider.Guid", "ProviderGuid", "ProviderId":
		b.named("winlog.provider_guid", v)
	case "Provider.EventSourceName":
		b.named("winlog.event_source_name", v)
	case "EventRecordID", "EventRecordId", "RecordNumber", "RecordId":
		b.named("winlog.record_id", v)
	case "Execution.ProcessID", "ProcessID":
		b.named("winlog.process.pid", v)
	case "Execution.ThreadID", "ThreadID":
		b.named("winlog.process.thread.id", v)
	case "Security.UserID", "UserID", "UserId":
		b.named("winlog.user.identifier", v)
	case "Correlation.ActivityID":
		b.named("winlog.activity_id", v)
	case "Correlation.RelatedActivityID":
		b.named("winlog.related_activity_id", v)
	case "Level":
		b.keyLit(event.LogLevel, winLevel(b.bytes(v)))
		b.named("winlog.level", v)
	case "Task":
		b.named("winlog.task", v)
	case "Opcode":
		b.named("winlog.opcode", v)
	case "Keywords":
		b.named("winlog.keywords", v)
	case "Version":
		b.named("winlog.version", v)
	case "TimeCreated.SystemTime":
		r.offerTime(v, rankSystemTime)
	case "TimeCreated":
		r.offerTime(v, rankTimeCreated)
	case "EventTime", "TimeGenerated":
		r.offerTime(v, rankEventTime)
	case "timestamp":
		r.offerTime(v, rankTimestampLower)
	case "Message":
		b.key(event.Message, v)
	default:
		return false
	}
	return true
}

// winLevel names a numeric event level as winlogbeat does.
func winLevel(v []byte) string {
	switch string(v) {
	case "0", "4":
		return "information"
	case "1":
		return "critical"
	case "2":
		return "error"
	case "3":
		return "warning"
	case "5":
		return "verbose"
	}
	return ""
}

// winEventData handles a leaf under EventData (n is its normalised path).
func (p *Parser) winEventData(n []byte, l leaf, r *winRecord) {
	switch string(n) {
	case "EventData", "EventData.Data", "EventData.Data.Value":
		// A Data value; its name, if any, is a sibling in the same object.
		if r.hasGroup && (r.group != l.obj || r.hasVal) {
			p.winFlushGroup(r)
		}
		r.group, r.hasGroup = l.obj, true
		r.val, r.hasVal = l.val, true
	case "EventData.Data.Name":
		if r.hasGroup && (r.group != l.obj || r.name != nil) {
			p.winFlushGroup(r)
		}
		r.group, r.hasGroup = l.obj, true
		r.name = p.b.bytes(l.val)
	default:
		if name := n[len("EventData."):]; string(name) != "Name" {
			p.winData(name, l.val)
		}
	}
}

// winFlushGroup stores the pending EventData.Data item.
func (p *Parser) winFlushGroup(r *winRecord) {
	if !r.hasGroup {
		return
	}
	switch {
	case len(r.name) > 0:
		p.winData(r.name, r.val)
	case r.hasVal:
		p.winUnnamed(r.val, r)
	}
	r.name, r.val, r.hasVal, r.hasGroup = nil, span{}, false, false
}

// winUnnamed stores an event data value that has no name as paramN, the
// names Windows gives them in messages.
func (p *Parser) winUnnamed(v span, r *winRecord) {
	r.unnamed++
	b := &p.b
	lo := len(b.names)
	b.names = append(b.names, "param"...)
	b.names = strconv.AppendInt(b.names, int64(r.unnamed), 10)
	p.winData(b.names[lo:], v)
}

// winData records one event data item: it is stored as
// winlog.event_data.<name> and mapped to ECS once the event id is known.
// Names are written without their spaces, as the Sigma specification
// names fields: Defender's "Threat Name" is ThreatName.
func (p *Parser) winData(name []byte, v span) {
	b := &p.b
	lo := len(b.names)
	b.names = append(b.names, "winlog.event_data."...)
	for len(name) > 0 {
		i := bytes.IndexByte(name, ' ')
		if i < 0 {
			b.names = append(b.names, name...)
			break
		}
		b.names = append(b.names, name[:i]...)
		name = name[i+1:]
	}
	key := span{lo, len(b.names)}
	if key.hi-key.lo == len("winlog.event_data.") {
		b.names = b.names[:lo]
		return // no name
	}
	it := extend(&p.items)
	it.key, it.val = key, v
}

// winItem is one Windows event data item: the span of its field name
// (winlog.event_data.<name>) and that of its value. It holds no pointer,
// so that appending one needs no GC write barrier.
type winItem struct{ key, val span }

// itemName returns the name of event data item d, without the
// winlog.event_data. of its field name.
func (p *Parser) itemName(d winItem) []byte {
	return p.b.names[d.key.lo+len("winlog.event_data.") : d.key.hi]
}

// isParamName reports whether an event data name is paramN, the name of
// an unnamed value (winUnnamed; winlogbeat names them the same way).
func isParamName(name []byte) bool {
	if len(name) <= len("param") || string(name[:len("param")]) != "param" {
		return false
	}
	_, ok := digits(name[len("param"):])
	return ok
}

// winPayload decodes EvtxECmd's Payload, a JSON document in a string that
// holds the event data. A payload that is not valid JSON is kept verbatim
// instead.
func (p *Parser) winPayload(r *winRecord) {
	first := len(p.leaves)
	if err := p.appendJSON(p.b.bytes(r.payload)); err != nil {
		p.leaves = p.leaves[:first]
		p.b.named("winlog.payload", r.payload)
		return
	}
	for i := first; i < len(p.leaves); i++ {
		l := p.leaves[i]
		n := p.winPath(p.paths[l.path.lo:l.path.hi])
		if xmlNamespace(n) {
			continue
		}
		if string(n) == "EventData" || bytes.HasPrefix(n, []byte("EventData.")) {
			p.winEventData(n, l, r)
		} else if bytes.HasPrefix(n, []byte("UserData.")) {
			name := n[bytes.LastIndexByte(n, '.')+1:]
			p.winData(name, l.val)
		}
	}
	p.winFlushGroup(r)
}

// winFinish sets the fields every Windows event has, the event data and
// their ECS mapping, and the event's category.
func (p *Parser) winFinish(r *winRecord) error {
	b := &p.b
	if r.eventID.empty() {
		r.eventID = r.altID
	}
	if r.eventID.empty() {
		return fmt.Errorf("windows: record has no event id (EventID, EventId, System.EventID or winlog.event_id)")
	}
	id, ok := digits(b.bytes(r.eventID))
	if !ok || id > 65535 {
		return fmt.Errorf("windows: event id %q is not a number from 0 to 65535", b.bytes(r.eventID))
	}
	r.id = id
	if !r.ts.empty() {
		t, err := parseTimestamp(b.bytes(r.ts))
		if err != nil {
			return fmt.Errorf("windows: time: %w", err)
		}
		b.time = t
	}
	b.key(event.WinlogEventId, r.eventID)
	b.key(event.EventCode, r.eventID)
	b.key(event.WinlogChannel, r.channel)
	b.key(event.WinlogProviderName, r.provider)
	b.key(event.EventProvider, r.provider)
	b.key(event.WinlogComputerName, r.computer)
	b.key(event.HostName, r.computer)
	b.keyLit(event.HostOsType, "windows")
	r.module = winModule(b.bytes(r.channel), b.bytes(r.provider))
	b.keyLit(event.EventModule, r.module)
	b.keyLit(event.EventDataset, winDataset(r.module))
	b.keyLit(event.EventKind, "event")
	params := false // most records have no unnamed values: one walk then
	for _, d := range p.items {
		b.dynamic(d.key, d.val)
		params = params || isParamName(p.itemName(d))
	}
	for i := 0; params && i < len(p.items); i++ {
		if d := p.items[i]; isParamName(p.itemName(d)) {
			// Unnamed values are, together, what Sigma rules call Data.
			b.named("winlog.event_data.Data", d.val)
		}
	}
	for _, d := range p.items {
		p.winECS(d, r)
	}
	p.winCategory(r)
	return nil
}

// winModule names the event.module of a channel: sysmon, security,
// powershell, or windows for the rest.
func winModule(channel, provider []byte) string {
	switch {
	case string(channel) == "Microsoft-Windows-Sysmon/Operational", // as Sysmon writes it: no EqualFold call
		bytes.EqualFold(channel, []byte("Microsoft-Windows-Sysmon/Operational")),
		len(channel) == 0 && bytes.EqualFold(provider, []byte("Microsoft-Windows-Sysmon")):
		return "sysmon"
	case bytes.EqualFold(channel, []byte("Security")),
		len(channel) == 0 && bytes.EqualFold(provider, []byte("Microsoft-Windows-Security-Auditing")):
		return "security"
	case containsFold(channel, "powershell"), len(channel) == 0 && containsFold(provider, "powershell"):
		return "powershell"
	}
	return "windows"
}

// winDataset maps event.module to event.dataset (a switch: a map lookup
// per record cost more).
func winDataset(module string) string {
	switch module {
	case "sysmon":
		return "windows.sysmon"
	case "security":
		return "windows.security"
	case "powershell":
		return "windows.powershell"
	case "windows":
		return "windows.eventlog"
	}
	return ""
}

// containsFold reports whether s contains the lower-case ASCII word sub,
// ignoring case.
func containsFold(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := 0; j < len(sub); j++ {
			if lower(s[i+j]) != sub[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// isDash reports whether an event data value is Windows' "nothing".
func isDash(v []byte) bool { return len(v) == 0 || string(v) == "-" }

// winECS maps one event data item to ECS where ECS has a name for it.
func (p *Parser) winECS(d winItem, r *winRecord) {
	b := &p.b
	v := d.val
	if isDash(b.bytes(v)) {
		return
	}
	security4688 := r.module == "security" && r.id == 4688
	switch string(p.itemName(d)) {
	case "Image", "NewProcessName", "SourceImage":
		p.winExecutable(event.ProcessExecutable, event.ProcessName, v)
	case "ParentImage", "ParentProcessName":
		p.winExecutable(event.ProcessParentExecutable, event.ProcessParentName, v)
	case "CommandLine":
		b.key(event.ProcessCommandLine, v)
	case "ParentCommandLine":
		b.key(event.ProcessParentCommandLine, v)
	case "ProcessId":
		if security4688 {
			b.key(event.ProcessParentPid, b.pid(v)) // 4688: the creator's pid
		} else {
			b.key(event.ProcessPid, b.pid(v))
		}
	case "NewProcessId":
		b.key(event.ProcessPid, b.pid(v))
	case "ParentProcessId":
		b.key(event.ProcessParentPid, b.pid(v))
	case "ProcessGuid", "SourceProcessGuid":
		b.key(event.ProcessEntityId, v)
	case "ParentProcessGuid":
		b.key(event.ProcessParentEntityId, v)
	case "CurrentDirectory":
		b.key(event.ProcessWorkingDirectory, v)
	case "OriginalFileName":
		b.key(event.ProcessOriginalFileName, v)
	case "Description":
		b.key(event.ProcessPeDescription, v)
	case "Product":
		b.key(event.ProcessPeProduct, v)
	case "Company":
		b.key(event.ProcessPeCompany, v)
	case "IntegrityLevel":
		b.key(event.ProcessIntegrityLevel, v)
	case "MandatoryLabel":
		b.keyLit(event.ProcessIntegrityLevel, integrityLevel(b.bytes(v)))
	case "User":
		p.winUser(v)
	case "SubjectUserName":
		b.key(event.UserName, v)
	case "SubjectDomainName":
		b.key(event.UserDomain, v)
	case "SubjectUserSid":
		b.key(event.UserId, v)
	case "TargetUserName":
		b.key(event.UserTargetName, v)
	case "TargetDomainName":
		b.key(event.UserTargetDomain, v)
	case "TargetUserSid":
		b.named("user.target.id", v)
	case "Hashes", "Hash":
		p.winHashes(v, winFileHashes(r))
	case "TargetFilename":
		b.key(event.FilePath, v)
		b.key(event.FileName, basename(b, v, '\\'))
	case "DestinationIp":
		b.key(event.DestinationIp, v)
	case "DestinationPort":
		b.key(event.DestinationPort, v)
	case "DestinationHostname":
		b.key(event.DestinationDomain, v)
	case "SourceIp", "IpAddress":
		b.key(event.SourceIp, v)
	case "SourcePort", "IpPort":
		b.key(event.SourcePort, v)
	case "SourceHostname", "WorkstationName":
		b.key(event.SourceDomain, v)
	case "Protocol":
		if r.module == "sysmon" {
			b.key(event.NetworkTransport, b.lowered(v))
		}
	case "Initiated":
		if r.module == "sysmon" {
			p.winDirection(v)
		}
	case "QueryName":
		b.key(event.DnsQuestionName, v)
	case "TargetObject":
		p.winRegistry(v, r)
	case "Details":
		b.key(event.RegistryDataStrings, v)
	case "EventType":
		if r.module == "sysmon" {
			b.key(event.EventAction, v)
		}
	case "LogonType":
		b.key(event.WinlogLogonType, v)
	case "ScriptBlockText":
		b.named("powershell.file.script_block_text", v)
	case "ScriptBlockId":
		b.named("powershell.file.script_block_id", v)
	case "ServiceName":
		b.named("service.name", v)
	}
}

// winExecutable maps a Windows executable path and its file name.
func (p *Parser) winExecutable(exe, name event.Key, v span) {
	p.b.key(exe, v)
	p.b.key(name, basename(&p.b, v, '\\'))
}

// winUser maps Sysmon's User, "DOMAIN\name".
func (p *Parser) winUser(v span) {
	b := &p.b
	if i := bytes.IndexByte(b.bytes(v), '\\'); i >= 0 {
		b.key(event.UserDomain, span{v.lo, v.lo + i})
		b.key(event.UserName, span{v.lo + i + 1, v.hi})
		return
	}
	b.key(event.UserName, v)
}

// winDirection maps Sysmon's Initiated: the host opened the connection.
func (p *Parser) winDirection(v span) {
	switch string(p.b.bytes(v)) {
	case "true", "True":
		p.b.keyLit(event.NetworkDirection, "egress")
	case "false", "False":
		p.b.keyLit(event.NetworkDirection, "ingress")
	}
}

// winFileHashes reports whether a Sysmon event's Hashes are of a file
// (driver and image loads, file streams, deletions, executables detected)
// rather than of the process.
func winFileHashes(r *winRecord) bool {
	if r.module != "sysmon" {
		return false
	}
	switch r.id {
	case 6, 7, 15, 23, 26, 29:
		return true
	}
	return false
}

// winHashes maps Sysmon's "SHA1=..,MD5=..,SHA256=..,IMPHASH=.." to
// process.hash.* or file.hash.*.
func (p *Parser) winHashes(v span, file bool) {
	b := &p.b
	s := b.bytes(v)
	off := v.lo
	for len(s) > 0 {
		item, rest, _ := bytes.Cut(s, []byte(","))
		alg, hash, ok := bytes.Cut(item, []byte("="))
		if ok && len(hash) > 0 {
			hs := span{off + len(alg) + 1, off + len(item)}
			var pk, fk event.Key = noSlot, noSlot
			switch {
			case bytes.EqualFold(alg, []byte("SHA256")):
				pk, fk = event.ProcessHashSha256, event.FileHashSha256
			case bytes.EqualFold(alg, []byte("SHA1")):
				pk, fk = event.ProcessHashSha1, event.FileHashSha1
			case bytes.EqualFold(alg, []byte("MD5")):
				pk, fk = event.ProcessHashMd5, event.FileHashMd5
			case bytes.EqualFold(alg, []byte("IMPHASH")):
				pk, fk = event.ProcessHashImphash, event.FileHashImphash
			}
			switch {
			case pk == noSlot:
			case file:
				b.key(fk, hs)
			default:
				b.key(pk, hs)
			}
		}
		off += len(item) + 1
		s = rest
	}
}

// winRegistry maps a registry path (HKLM\SOFTWARE\...\Run\Value) to
// registry.path, registry.hive, registry.key and, for value events,
// registry.value.
func (p *Parser) winRegistry(v span, r *winRecord) {
	b := &p.b
	b.key(event.RegistryPath, v)
	s := b.bytes(v)
	hive := bytes.IndexByte(s, '\\')
	if hive < 0 {
		return
	}
	b.named("registry.hive", span{v.lo, v.lo + hive})
	keyEnd := v.hi
	if p.winValueEvent(r) {
		if last := bytes.LastIndexByte(s, '\\'); last > hive {
			b.key(event.RegistryValue, span{v.lo + last + 1, v.hi})
			keyEnd = v.lo + last
		}
	}
	b.key(event.RegistryKey, span{v.lo + hive + 1, keyEnd})
}

// winValueEvent reports whether a Sysmon registry event is about a value
// (13, or 12 with EventType CreateValue/DeleteValue) rather than a key.
// The answer is kept: a record may repeat TargetObject.
func (p *Parser) winValueEvent(r *winRecord) bool {
	if r.valueEvent == 0 {
		r.valueEvent = -1
		if r.module == "sysmon" && (r.id == 13 || p.winEventTypeIsValue()) {
			r.valueEvent = 1
		}
	}
	return r.valueEvent == 1
}

func (p *Parser) winEventTypeIsValue() bool {
	for _, d := range p.items {
		if string(p.itemName(d)) == "EventType" {
			return bytes.HasSuffix(p.b.bytes(d.val), []byte("Value"))
		}
	}
	return false
}

// integrityLevel names a mandatory label SID (4688's MandatoryLabel).
func integrityLevel(sid []byte) string {
	switch string(sid) {
	case "S-1-16-0":
		return "Untrusted"
	case "S-1-16-4096":
		return "Low"
	case "S-1-16-8192":
		return "Medium"
	case "S-1-16-8448":
		return "MediumPlus"
	case "S-1-16-12288":
		return "High"
	case "S-1-16-16384":
		return "System"
	}
	return ""
}

// pid returns a process id in decimal: Security events write them in
// hexadecimal (0x1a2c), Sysmon in decimal. Anything else yields an empty
// span.
func (b *builder) pid(v span) span {
	s := b.bytes(v)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		if len(s) > 2+16 {
			return span{}
		}
		var n uint64
		for _, c := range s[2:] {
			switch {
			case isDigit(c):
				n = n<<4 | uint64(c-'0')
			case 'a' <= lower(c) && lower(c) <= 'f':
				n = n<<4 | uint64(lower(c)-'a'+10)
			default:
				return span{}
			}
		}
		lo := b.mark()
		b.buf = strconv.AppendUint(b.buf, n, 10)
		return b.since(lo)
	}
	if _, ok := digits(s); ok {
		return v
	}
	return span{}
}

// winCategory sets event.category, event.type, event.outcome and
// event.action for the events whose meaning is known.
func (p *Parser) winCategory(r *winRecord) {
	b := &p.b
	category, typ, outcome, action := "", "", "", ""
	switch r.module {
	case "sysmon":
		switch r.id {
		case 1:
			category, typ = "process", "start"
		case 3:
			category, typ = "network", "connection"
		case 5:
			category, typ = "process", "end"
		case 11:
			category, typ = "file", "creation"
		case 12, 13, 14:
			category, typ = "registry", "change"
		case 22:
			category, typ = "network", "protocol"
			b.keyLit(event.NetworkProtocol, "dns")
		case 23, 26:
			category, typ = "file", "deletion"
		}
	case "security":
		switch r.id {
		case 4688:
			category, typ = "process", "start"
		case 4689:
			category, typ = "process", "end"
		case 4624:
			category, typ, outcome, action = "authentication", "start", "success", "logged-in"
		case 4625:
			category, typ, outcome, action = "authentication", "start", "failure", "logon-failed"
		case 4634, 4647:
			category, typ, action = "authentication", "end", "logged-out"
		}
	}
	b.keyLit(event.EventCategory, category)
	b.keyLit(event.EventType, typ)
	b.keyLit(event.EventOutcome, outcome)
	b.keyLit(event.EventAction, action)
}
