package event

// knownExtras lists the non-slotted field names xsoc's parsers commonly
// produce: the EventData of Sysmon and of the Security log, and a few ECS
// names without a slot. Set stores these names as the one copy held here,
// and RefOf resolves to the same copy, so that a lookup recognises them by
// their address without reading the event's copy of the name, which, in
// an event read long after it was parsed, is rarely in the CPU cache.
var knownExtras = [...]string{
	"winlog.event_data.Archived",
	"winlog.event_data.AuthenticationPackageName",
	"winlog.event_data.CallTrace",
	"winlog.event_data.CommandLine",
	"winlog.event_data.Company",
	"winlog.event_data.CreationUtcTime",
	"winlog.event_data.CurrentDirectory",
	"winlog.event_data.Description",
	"winlog.event_data.Details",
	"winlog.event_data.DestinationHostname",
	"winlog.event_data.DestinationIp",
	"winlog.event_data.DestinationIsIpv6",
	"winlog.event_data.DestinationPort",
	"winlog.event_data.DestinationPortName",
	"winlog.event_data.EventType",
	"winlog.event_data.FileVersion",
	"winlog.event_data.GrantedAccess",
	"winlog.event_data.Hashes",
	"winlog.event_data.Image",
	"winlog.event_data.ImageLoaded",
	"winlog.event_data.Initiated",
	"winlog.event_data.IntegrityLevel",
	"winlog.event_data.IpAddress",
	"winlog.event_data.IpPort",
	"winlog.event_data.LogonGuid",
	"winlog.event_data.LogonId",
	"winlog.event_data.LogonProcessName",
	"winlog.event_data.LogonType",
	"winlog.event_data.NewProcessName",
	"winlog.event_data.ObjectName",
	"winlog.event_data.OriginalFileName",
	"winlog.event_data.ParentCommandLine",
	"winlog.event_data.ParentImage",
	"winlog.event_data.ParentProcessGuid",
	"winlog.event_data.ParentProcessId",
	"winlog.event_data.ParentProcessName",
	"winlog.event_data.ParentUser",
	"winlog.event_data.PipeName",
	"winlog.event_data.ProcessGuid",
	"winlog.event_data.ProcessId",
	"winlog.event_data.ProcessName",
	"winlog.event_data.Product",
	"winlog.event_data.Protocol",
	"winlog.event_data.QueryName",
	"winlog.event_data.QueryResults",
	"winlog.event_data.QueryStatus",
	"winlog.event_data.RuleName",
	"winlog.event_data.ServiceName",
	"winlog.event_data.Signature",
	"winlog.event_data.SignatureStatus",
	"winlog.event_data.Signed",
	"winlog.event_data.SourceHostname",
	"winlog.event_data.SourceImage",
	"winlog.event_data.SourceIp",
	"winlog.event_data.SourceIsIpv6",
	"winlog.event_data.SourcePort",
	"winlog.event_data.SourcePortName",
	"winlog.event_data.StartAddress",
	"winlog.event_data.StartFunction",
	"winlog.event_data.StartModule",
	"winlog.event_data.SubjectDomainName",
	"winlog.event_data.SubjectLogonId",
	"winlog.event_data.SubjectUserName",
	"winlog.event_data.SubjectUserSid",
	"winlog.event_data.TargetDomainName",
	"winlog.event_data.TargetFilename",
	"winlog.event_data.TargetImage",
	"winlog.event_data.TargetLogonId",
	"winlog.event_data.TargetObject",
	"winlog.event_data.TargetUserName",
	"winlog.event_data.TargetUserSid",
	"winlog.event_data.TerminalSessionId",
	"winlog.event_data.User",
	"winlog.event_data.UtcTime",
	"winlog.event_data.WorkstationName",
	"winlog.event_id",
	"winlog.record_id",
	"winlog.task",
	"winlog.opcode",
	"host.os.platform",
	"host.os.version",
	"agent.name",
	"agent.type",
	"agent.version",
	"related.ip",
	"related.user",
	"related.hash",
	"process.args",
	"process.thread.id",
	"process.parent.args",
	"user.target.id",
	"file.extension",
	"file.directory",
	"dll.path",
	"dll.name",
}

// nameInfo is what a field name resolves to: its slot, or for an extra
// field noKey, the canonical copy of the name and its hash.
type nameInfo struct {
	key  Key
	hash uint32
	name string
}

// byName resolves the slotted and the known extra field names. It is
// built once at start and never modified.
var byName = func() map[string]nameInfo {
	m := make(map[string]nameInfo, int(numKeys)+len(knownExtras))
	for k, n := range keyNames {
		m[n] = nameInfo{key: Key(k), name: n}
	}
	for _, n := range knownExtras {
		if _, dup := m[n]; !dup {
			m[n] = nameInfo{key: noKey, hash: nameHash(n), name: n}
		}
	}
	return m
}()

// keyHashes holds nameHash of every slotted field's name: the tag of its
// further values among the extras (see Event.Add). It is computed once and
// never modified.
var keyHashes = func() (h [numKeys]uint32) {
	for k, n := range keyNames {
		h[k] = nameHash(n)
	}
	return h
}()

// resolve returns what name stands for: a known name's entry, or for any
// other name an extra field under name itself.
func resolve(name string) nameInfo {
	if ni, ok := byName[name]; ok {
		return ni
	}
	return nameInfo{key: noKey, hash: nameHash(name), name: name}
}
