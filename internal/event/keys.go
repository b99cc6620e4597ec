package event

// Key is the slot of a common ECS field. Slotted fields are read with an
// array index instead of a name search.
type Key uint8

// The slotted fields. Their names are in keyNames.
const (
	EventKind                      Key = iota // event.kind
	EventCategory                             // event.category
	EventType                                 // event.type
	EventAction                               // event.action
	EventOutcome                              // event.outcome
	EventCode                                 // event.code
	EventModule                               // event.module
	EventDataset                              // event.dataset
	EventProvider                             // event.provider
	EventSeverity                             // event.severity
	Message                                   // message
	LogLevel                                  // log.level
	Tags                                      // tags
	SourceIp                                  // source.ip
	SourcePort                                // source.port
	SourceDomain                              // source.domain
	SourceMac                                 // source.mac
	SourceBytes                               // source.bytes
	SourceUserName                            // source.user.name
	DestinationIp                             // destination.ip
	DestinationPort                           // destination.port
	DestinationDomain                         // destination.domain
	DestinationBytes                          // destination.bytes
	NetworkTransport                          // network.transport
	NetworkProtocol                           // network.protocol
	NetworkDirection                          // network.direction
	NetworkCommunityId                        // network.community_id
	DnsQuestionName                           // dns.question.name
	DnsQuestionType                           // dns.question.type
	DnsResponseCode                           // dns.response_code
	DnsAnswersData                            // dns.answers.data
	UrlFull                                   // url.full
	UrlDomain                                 // url.domain
	UrlPath                                   // url.path
	UrlOriginal                               // url.original
	HttpRequestMethod                         // http.request.method
	HttpResponseStatusCode                    // http.response.status_code
	UserAgentOriginal                         // user_agent.original
	HttpRequestReferrer                       // http.request.referrer
	TlsServerSni                              // tls.server.sni
	TlsServerJa3s                             // tls.server.ja3s
	TlsClientJa3                              // tls.client.ja3
	TlsVersion                                // tls.version
	TlsServerX509SubjectCommonName            // tls.server.x509.subject.common_name
	FilePath                                  // file.path
	FileName                                  // file.name
	FileHashMd5                               // file.hash.md5
	FileHashSha1                              // file.hash.sha1
	FileHashSha256                            // file.hash.sha256
	FileHashImphash                           // file.hash.imphash
	ProcessPid                                // process.pid
	ProcessExecutable                         // process.executable
	ProcessName                               // process.name
	ProcessCommandLine                        // process.command_line
	ProcessWorkingDirectory                   // process.working_directory
	ProcessHashSha256                         // process.hash.sha256
	ProcessHashMd5                            // process.hash.md5
	ProcessHashSha1                           // process.hash.sha1
	ProcessHashImphash                        // process.hash.imphash
	ProcessParentPid                          // process.parent.pid
	ProcessParentExecutable                   // process.parent.executable
	ProcessParentName                         // process.parent.name
	ProcessParentCommandLine                  // process.parent.command_line
	ProcessOriginalFileName                   // process.original_file_name
	ProcessPeDescription                      // process.pe.description
	ProcessPeProduct                          // process.pe.product
	ProcessPeCompany                          // process.pe.company
	ProcessIntegrityLevel                     // process.integrity_level
	ProcessEntityId                           // process.entity_id
	ProcessParentEntityId                     // process.parent.entity_id
	UserName                                  // user.name
	UserDomain                                // user.domain
	UserId                                    // user.id
	UserTargetName                            // user.target.name
	UserTargetDomain                          // user.target.domain
	HostName                                  // host.name
	HostHostname                              // host.hostname
	HostIp                                    // host.ip
	HostOsType                                // host.os.type
	HostOsName                                // host.os.name
	EmailFromAddress                          // email.from.address
	EmailToAddress                            // email.to.address
	EmailSubject                              // email.subject
	RegistryPath                              // registry.path
	RegistryKey                               // registry.key
	RegistryValue                             // registry.value
	RegistryDataStrings                       // registry.data.strings
	WinlogEventId                             // winlog.event_id
	WinlogChannel                             // winlog.channel
	WinlogProviderName                        // winlog.provider_name
	WinlogLogonType                           // winlog.logon.type
	WinlogComputerName                        // winlog.computer_name
	RuleName                                  // rule.name
	ThreatTechniqueId                         // threat.technique.id
	ObserverVendor                            // observer.vendor
	ObserverProduct                           // observer.product
	ObserverName                              // observer.name

	numKeys           // number of slotted fields
	noKey   Key = 255 // marks a Ref to an extra field
)

// keyNames maps a Key to its dotted ECS name. It is never modified.
var keyNames = [numKeys]string{
	EventKind:                      "event.kind",
	EventCategory:                  "event.category",
	EventType:                      "event.type",
	EventAction:                    "event.action",
	EventOutcome:                   "event.outcome",
	EventCode:                      "event.code",
	EventModule:                    "event.module",
	EventDataset:                   "event.dataset",
	EventProvider:                  "event.provider",
	EventSeverity:                  "event.severity",
	Message:                        "message",
	LogLevel:                       "log.level",
	Tags:                           "tags",
	SourceIp:                       "source.ip",
	SourcePort:                     "source.port",
	SourceDomain:                   "source.domain",
	SourceMac:                      "source.mac",
	SourceBytes:                    "source.bytes",
	SourceUserName:                 "source.user.name",
	DestinationIp:                  "destination.ip",
	DestinationPort:                "destination.port",
	DestinationDomain:              "destination.domain",
	DestinationBytes:               "destination.bytes",
	NetworkTransport:               "network.transport",
	NetworkProtocol:                "network.protocol",
	NetworkDirection:               "network.direction",
	NetworkCommunityId:             "network.community_id",
	DnsQuestionName:                "dns.question.name",
	DnsQuestionType:                "dns.question.type",
	DnsResponseCode:                "dns.response_code",
	DnsAnswersData:                 "dns.answers.data",
	UrlFull:                        "url.full",
	UrlDomain:                      "url.domain",
	UrlPath:                        "url.path",
	UrlOriginal:                    "url.original",
	HttpRequestMethod:              "http.request.method",
	HttpResponseStatusCode:         "http.response.status_code",
	UserAgentOriginal:              "user_agent.original",
	HttpRequestReferrer:            "http.request.referrer",
	TlsServerSni:                   "tls.server.sni",
	TlsServerJa3s:                  "tls.server.ja3s",
	TlsClientJa3:                   "tls.client.ja3",
	TlsVersion:                     "tls.version",
	TlsServerX509SubjectCommonName: "tls.server.x509.subject.common_name",
	FilePath:                       "file.path",
	FileName:                       "file.name",
	FileHashMd5:                    "file.hash.md5",
	FileHashSha1:                   "file.hash.sha1",
	FileHashSha256:                 "file.hash.sha256",
	FileHashImphash:                "file.hash.imphash",
	ProcessPid:                     "process.pid",
	ProcessExecutable:              "process.executable",
	ProcessName:                    "process.name",
	ProcessCommandLine:             "process.command_line",
	ProcessWorkingDirectory:        "process.working_directory",
	ProcessHashSha256:              "process.hash.sha256",
	ProcessHashMd5:                 "process.hash.md5",
	ProcessHashSha1:                "process.hash.sha1",
	ProcessHashImphash:             "process.hash.imphash",
	ProcessParentPid:               "process.parent.pid",
	ProcessParentExecutable:        "process.parent.executable",
	ProcessParentName:              "process.parent.name",
	ProcessParentCommandLine:       "process.parent.command_line",
	ProcessOriginalFileName:        "process.original_file_name",
	ProcessPeDescription:           "process.pe.description",
	ProcessPeProduct:               "process.pe.product",
	ProcessPeCompany:               "process.pe.company",
	ProcessIntegrityLevel:          "process.integrity_level",
	ProcessEntityId:                "process.entity_id",
	ProcessParentEntityId:          "process.parent.entity_id",
	UserName:                       "user.name",
	UserDomain:                     "user.domain",
	UserId:                         "user.id",
	UserTargetName:                 "user.target.name",
	UserTargetDomain:               "user.target.domain",
	HostName:                       "host.name",
	HostHostname:                   "host.hostname",
	HostIp:                         "host.ip",
	HostOsType:                     "host.os.type",
	HostOsName:                     "host.os.name",
	EmailFromAddress:               "email.from.address",
	EmailToAddress:                 "email.to.address",
	EmailSubject:                   "email.subject",
	RegistryPath:                   "registry.path",
	RegistryKey:                    "registry.key",
	RegistryValue:                  "registry.value",
	RegistryDataStrings:            "registry.data.strings",
	WinlogEventId:                  "winlog.event_id",
	WinlogChannel:                  "winlog.channel",
	WinlogProviderName:             "winlog.provider_name",
	WinlogLogonType:                "winlog.logon.type",
	WinlogComputerName:             "winlog.computer_name",
	RuleName:                       "rule.name",
	ThreatTechniqueId:              "threat.technique.id",
	ObserverVendor:                 "observer.vendor",
	ObserverProduct:                "observer.product",
	ObserverName:                   "observer.name",
}

// keyByName maps a dotted ECS name to its Key. It is built once at start
// and never modified.
var keyByName = func() map[string]Key {
	m := make(map[string]Key, numKeys)
	for k, n := range keyNames {
		m[n] = Key(k)
	}
	return m
}()

// Name returns the dotted ECS name of k.
func (k Key) Name() string { return keyNames[k] }

// Ref returns the Ref of the slotted field k.
func (k Key) Ref() Ref { return Ref{key: k, name: keyNames[k]} }
