// Package format turns one input record (a line of JSON, a syslog message,
// a CEF event) into a normalised event.Event with ECS field names.
//
// # Use
//
// The ingest servers call Parse once per record, on the hot path:
//
//	var p format.Parser            // one per goroutine; reuses its buffers
//	ev.Reset()
//	if err := p.Parse(format.Auto, line, ev); err != nil {
//		// err names the reason, e.g. "syslog: missing PRI" or
//		// "json: line 1 col 17: invalid character 'x' looking for beginning of value"
//	}
//
// Format names the input format; ParseFormat reads the ?format= parameter
// and Sniff chooses a format by content when it is Auto. ScanSyslog frames
// syslog over TCP for a bufio.Scanner, with RFC 6587 octet counting or LF /
// NUL framing detected per message. Records over MaxRecord (1 MiB) are
// rejected with an error wrapping ErrTooLong.
//
// Every format fills ev.Time from the record's own timestamp (left zero if
// the record has none); a timestamp outside 1970-01-01T00:00:00Z ..
// 2262-04-11T23:47:16Z, what int64 nanoseconds since the epoch hold, is
// an error, so that stored times order and filter correctly. It copies the record to ev.Original, and never sets
// ev.Member; ev.ID is set only from an ECS record's event.id. A record that
// fails to parse leaves the event as it was.
//
// # Design
//
// The JSON formats share one decoder (json.go) that validates as strictly
// as encoding/json but, instead of building a map of interface values,
// flattens the record into leaves: a dotted path ("alert.signature",
// "id.orig_h") and a value. Each format then maps leaves by switching on the
// path. Values keep their JSON text: numbers are not rounded through
// float64 (Suricata's 64-bit flow_id survives), booleans are "true" and
// "false", nulls and empty containers are dropped, and the elements of an
// array repeat the array's path. Invalid UTF-8 becomes U+FFFD, as with
// encoding/json; nesting is limited to 64 levels.
//
// All values and computed field names of a record are written to one
// buffer that becomes a single string when the record is complete, so a
// record costs one allocation however many fields it has (see builder.go),
// and nothing reaches the event until the whole record has parsed. Values
// share that string: holding one value keeps the record's strings alive.
//
// A record costs at most a fixed multiple of its size: besides MaxRecord,
// a record has at most 20,000 fields (JSON values, CEF extensions, syslog
// parameters), JSON field paths are at most 512 bytes and 64 levels deep
// and add up to at most eight times the record, and RFC 5424 SD-IDs and
// PARAM-NAMEs have at most 32 characters, as the RFC says. Records past a
// limit are rejected with an error that names it.
//
// A list keeps every element, in order. Where a record has a list for a
// slotted ECS field (DNS answers, Suricata's email.to, an ECS array such
// as host.ip or related.ip), the first element takes the slot and the
// others follow it (event.Event.AddKey): detectors see them all through
// Each, and the event's JSON writes them as an array. event.category
// still holds the one most specific category.
//
// All field values are strings.
//
// # ECS (generic JSON)
//
// Any JSON object, nested or with dotted keys (or both): each leaf becomes
// the field named by its path, as event.Event.SetObject does. A record
// that is not a JSON object is rejected.
//
//	@timestamp                    ev.Time (RFC 3339, space-separated, epoch s/ms)
//	event.id                      ev.ID
//	observer.organization.id      dropped: the member is the caller's to set
//	event.ingested                dropped: set by the caller on acceptance
//	event.original                dropped: the raw line is ev.Original
//	everything else               the same name
//
// # Syslog
//
// RFC 5424 ("<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG") and
// RFC 3164 ("<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[pid]: MSG"). A record
// without <PRI> is rejected. RFC 3164 timestamps have no zone and no year:
// they are taken as UTC, in the latest year that does not put them more
// than a day in the future; an RFC 3339 timestamp in their place is read
// too. A word after the timestamp that ends with ":" or has "[" is a tag,
// not a host name. If MSG starts with "CEF:" it is parsed as CEF as well
// (and a malformed CEF message keeps the syslog event, with the reason in
// error.message).
//
//	PRI                           log.syslog.priority
//	PRI / 8                       log.syslog.facility.code, log.syslog.facility.name (kern ... local7)
//	PRI % 8                       log.syslog.severity.code, log.syslog.severity.name (Emergency ... Debug)
//	VERSION                       log.syslog.version
//	TIMESTAMP                     ev.Time
//	HOSTNAME                      host.hostname, host.name (5424 also log.syslog.hostname)
//	APP-NAME / TAG                process.name, log.syslog.appname
//	PROCID / [pid]                log.syslog.procid; process.pid when numeric
//	MSGID                         event.code, log.syslog.msgid
//	[id param="value"]            syslog.sd.<id>.<param> (escapes \" \\ \] resolved)
//	MSG                           message (UTF-8 BOM dropped, trailing CR/LF dropped)
//	                              event.module = event.dataset = "syslog"
//
// # CEF
//
// "CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|
// Name|Severity|Extension", bare or after a syslog header without PRI
// ("Sep 19 08:26:10 host CEF:0|..."), whose time and host are kept. The
// header escapes \| and \\; extension values escape \=, \\, \n and \r, may
// contain spaces, and run to the space before the next key=.
//
//	Version                       cef.version
//	Device Vendor / Product       observer.vendor, observer.product
//	Device Version                observer.version
//	Signature ID                  event.code
//	Name                          rule.name (and message when there is no msg)
//	Severity                      cef.severity; event.severity (0-10 as is; Low 3, Medium 6, High 8, Very-High 10)
//	every extension key K         cef.extensions.K (verbatim)
//	csN, cnN, flexStringN, ...    also cef.extensions.<value of csNLabel, ...>
//	src, dst                      source.ip, destination.ip
//	spt, dpt                      source.port, destination.port
//	smac, dmac                    source.mac, destination.mac
//	shost, dhost                  source.domain, destination.domain
//	suser, suid, sntdom           user.name, user.id, user.domain
//	duser, duid, dntdom           user.target.name, user.target.id, user.target.domain
//	dvchost                       host.name, observer.hostname
//	dvc                           observer.ip
//	request                       url.full
//	requestMethod                 http.request.method
//	requestClientApplication      user_agent.original
//	fname, filePath, fsize        file.name, file.path, file.size
//	fileHash                      file.hash.md5 / sha1 / sha256 / sha512 by length
//	act, outcome                  event.action, event.outcome
//	app, proto                    network.protocol, network.transport (lowercased)
//	deviceDirection               network.direction (0 inbound, 1 outbound)
//	in, out                       source.bytes, destination.bytes
//	msg                           message
//	dproc, dpid                   process.name, process.pid
//	rt, else start, else end      ev.Time (epoch ms, "MMM dd [yyyy] HH:mm:ss[.SSS][ zone]" or RFC 3339;
//	                              unreadable times stay under cef.extensions only)
//	                              event.module = event.dataset = "cef"
//
// The full key names (sourceAddress, destinationPort, deviceReceiptTime,
// ...) map like their short forms.
//
// # Suricata EVE JSON
//
// Every leaf is kept as suricata.eve.<path>; in addition:
//
//	timestamp                     ev.Time
//	src_ip, src_port              source.ip, source.port
//	dest_ip, dest_port            destination.ip, destination.port
//	proto, app_proto              network.transport, network.protocol (lowercased)
//	community_id                  network.community_id
//	host, in_iface                observer.name, observer.ingress.interface.name
//	alert.signature               rule.name, message
//	alert.signature_id            rule.id
//	alert.category                rule.category
//	alert.severity                event.severity
//	alert.metadata.mitre_technique_id   threat.technique.id (all, in order)
//	dns.rrname, dns.queries.rrname      dns.question.name
//	dns.rrtype, dns.queries.rrtype      dns.question.type
//	dns.rcode, dns.id, dns.type         dns.response_code, dns.id, dns.type
//	dns.answers.rdata, dns.rdata        dns.answers.data (all, in order)
//	http.hostname                 url.domain
//	http.url                      url.original, url.path, url.query; url.full = http://hostname[:http_port]url
//	http.http_method, http.status       http.request.method, http.response.status_code
//	http.http_user_agent, http.http_refer user_agent.original, http.request.referrer
//	http.protocol, http.length, http.http_content_type  http.version, http.response.body.bytes, http.response.mime_type
//	tls.sni                       tls.server.sni
//	tls.ja3.hash, tls.ja3s.hash   tls.client.ja3, tls.server.ja3s
//	tls.version                   tls.version ("1.2"), tls.version_protocol ("tls")
//	tls.subject                   tls.server.subject, tls.server.x509.subject.common_name
//	tls.issuerdn, tls.fingerprint tls.server.issuer, tls.server.hash.sha1
//	tls.notbefore, tls.notafter   tls.server.not_before, tls.server.not_after
//	fileinfo.filename             file.path, file.name
//	fileinfo.md5/sha1/sha256/size file.hash.md5/sha1/sha256, file.size
//	flow.bytes_toserver/toclient  source.bytes, destination.bytes
//	flow.pkts_toserver/toclient   source.packets, destination.packets
//	flow.start, flow.end          event.start, event.end
//	email.from, email.to, email.subject  email.from.address, email.to.address (all), email.subject
//
//	event_type   event.kind  event.category        event.type
//	alert        alert       intrusion_detection   allowed / denied (alert.action) / info
//	flow         event       network               connection
//	fileinfo     event       file                  info
//	anomaly      event       network               info
//	dns, http, tls, ssh, smtp, ...  event  network protocol (network.protocol = event_type if no app_proto)
//	event.module = "suricata", event.dataset = "suricata.eve"
//
// # Zeek JSON logs
//
// (Zeek's default tab-separated logs are converted to these JSON lines by
// the ingest endpoint, which sees their #fields header.)
//
// The log is the record's _path, or, without one, the log whose fields it
// has (query+qtype: dns; method or host with uri: http; server_name or
// cipher: ssl; proto+conn_state: conn; note+msg: notice; fuid with
// mime_type or tx_hosts: files; certificate.*: x509); otherwise "unknown".
// Every leaf is kept as zeek.<log>.<path> (zeek.dns.query,
// zeek.conn.id.orig_h); in addition:
//
//	ts                            ev.Time (epoch seconds with fraction, epoch ms, or ISO 8601)
//	uid                           zeek.session_id
//	id.orig_h, id.orig_p          source.ip, source.port
//	id.resp_h, id.resp_p          destination.ip, destination.port
//	proto                         network.transport
//	community_id                  network.community_id
//	conn:   service (first)       network.protocol
//	        orig_bytes, resp_bytes  source.bytes, destination.bytes
//	        orig_pkts, resp_pkts    source.packets, destination.packets
//	        duration                event.duration (nanoseconds)
//	dns:    query, qtype_name, rcode_name  dns.question.name, dns.question.type, dns.response_code
//	        answers (all), trans_id        dns.answers.data, dns.id
//	http:   method, host, uri      http.request.method, url.domain, url.original/url.path/url.query
//	        url.full               http://host[:id.resp_p]uri
//	        user_agent, status_code, referrer, version  user_agent.original, http.response.status_code,
//	                               http.request.referrer, http.version
//	        request_body_len, response_body_len  http.request.body.bytes, http.response.body.bytes
//	ssl:    server_name, version   tls.server.sni, tls.version + tls.version_protocol
//	        cipher, curve, established, resumed, next_protocol  tls.*
//	        ja3, ja3s              tls.client.ja3, tls.server.ja3s
//	        subject, issuer        tls.server.subject (+ common name), tls.server.issuer
//	files:  md5, sha1, sha256, filename, mime_type, total_bytes  file.hash.*, file.name, file.mime_type, file.size
//	notice: note, msg, src, dst, p  rule.name, message, source.ip, destination.ip, destination.port
//	x509:   certificate.subject/issuer/serial, san.dns  x509.subject.distinguished_name,
//	                               x509.issuer.distinguished_name, x509.serial_number, x509.alternative_names
//
//	event.kind "event" ("alert" for notice); event.category network (conn, dns, http, ssl),
//	file (files), intrusion_detection (notice); event.type connection (conn),
//	protocol (dns, http, ssl), info (files, notice)
//	event.module = "zeek", event.dataset = "zeek.<log>"
//
// # Windows event logs
//
// Accepted shapes: winlogbeat / Elastic Agent (winlog.*, winlog.event_data.*
// next to ECS fields, which are kept by name); XML converted to JSON
// (evtx_dump, xmltodict, PowerShell), with Event.System and
// Event.EventData, the data as members or as a Data list of
// {"@Name","#text"} (#attributes and #text wrappers and @ prefixes are
// looked through; unnamed values become param1, param2, ...); flat records
// (EventID, Channel, Computer, TimeCreated, ... with an EventData object,
// an EvtxECmd Payload string holding EventData, or the event data fields at
// the top level as nxlog and expanded EvtxECmd write them); Get-WinEvent
// objects (Id, LogName, MachineName, Properties, "/Date(ms)/").
// A record without an event id is rejected.
//
//	System.EventID, EventID, EventId, Id, winlog.event_id   winlog.event_id, event.code
//	Channel, LogName, winlog.channel              winlog.channel
//	Provider.Name, Provider, ProviderName, SourceName   winlog.provider_name, event.provider
//	Computer, MachineName, Hostname               winlog.computer_name, host.name
//	TimeCreated.SystemTime > TimeCreated > @timestamp > EventTime > UtcTime > timestamp   ev.Time
//	EventRecordID, RecordNumber                   winlog.record_id
//	Execution.ProcessID/ThreadID                  winlog.process.pid, winlog.process.thread.id
//	Security.UserID                               winlog.user.identifier
//	Level                                         winlog.level, log.level (information, error, ...)
//	Task, Opcode, Keywords, Version               winlog.task, winlog.opcode, winlog.keywords, winlog.version
//	Message, RenderingInfo.Message                message
//	every event data item Name                    winlog.event_data.<Name> (value verbatim, "-" included;
//	                                              the name without spaces, as Sigma writes it: "Threat Name" is ThreatName)
//	unnamed values param1, param2, ...            also the list winlog.event_data.Data (Sigma's Data)
//	                                              host.os.type = "windows"
//
// Event data mapped to ECS as well (values "-" are not mapped):
//
//	Image, NewProcessName (4688), SourceImage     process.executable, process.name (after the last \)
//	CommandLine, CurrentDirectory                 process.command_line, process.working_directory
//	ProcessId (hex in Security events)            process.pid; in 4688 process.parent.pid
//	NewProcessId (4688)                           process.pid
//	ParentImage, ParentProcessName (4688)         process.parent.executable, process.parent.name
//	ParentCommandLine, ParentProcessId            process.parent.command_line, process.parent.pid
//	ProcessGuid, ParentProcessGuid                process.entity_id, process.parent.entity_id
//	OriginalFileName                              process.original_file_name
//	Description, Product, Company                 process.pe.description, process.pe.product, process.pe.company
//	IntegrityLevel, MandatoryLabel (SID)          process.integrity_level
//	User (DOMAIN\name)                            user.domain, user.name
//	SubjectUserName, SubjectDomainName, SubjectUserSid  user.name, user.domain, user.id
//	TargetUserName, TargetDomainName, TargetUserSid     user.target.name, user.target.domain, user.target.id
//	Hashes (SHA1=..,MD5=..,SHA256=..,IMPHASH=..)  process.hash.*; file.hash.* for Sysmon 6, 7, 15, 23, 26, 29
//	TargetFilename                                file.path, file.name
//	SourceIp, IpAddress; SourcePort, IpPort       source.ip; source.port
//	SourceHostname, WorkstationName               source.domain
//	DestinationIp, DestinationPort, DestinationHostname  destination.ip, destination.port, destination.domain
//	Protocol, Initiated (Sysmon)                  network.transport, network.direction (egress / ingress)
//	QueryName                                     dns.question.name
//	TargetObject                                  registry.path, registry.hive, registry.key, registry.value (value events)
//	Details                                       registry.data.strings
//	EventType (Sysmon)                            event.action
//	LogonType                                     winlog.logon.type
//	ScriptBlockText, ScriptBlockId                powershell.file.script_block_text, powershell.file.script_block_id
//	ServiceName                                   service.name
//
//	channel                                   event.module  event.dataset
//	Microsoft-Windows-Sysmon/Operational      sysmon        windows.sysmon
//	Security                                  security      windows.security
//	any with "PowerShell"                     powershell    windows.powershell
//	others                                    windows       windows.eventlog
//	(without a channel, the provider decides)
//
//	event         event.category   event.type   event.outcome  event.action
//	Sysmon 1      process          start
//	Sysmon 3      network          connection
//	Sysmon 5      process          end
//	Sysmon 11     file             creation
//	Sysmon 12-14  registry         change                      EventType
//	Sysmon 22     network          protocol     (network.protocol = dns)
//	Sysmon 23, 26 file             deletion
//	4688 / 4689   process          start / end
//	4624          authentication   start        success        logged-in
//	4625          authentication   start        failure        logon-failed
//	4634, 4647    authentication   end                         logged-out
package format
