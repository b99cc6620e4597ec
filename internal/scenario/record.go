package scenario

import "time"

// Wire formats of the records, as named by xsoc's ingest layer.
const (
	// FormatWindows is a Windows event log record as winlogbeat 7.17
	// ships it: one JSON object with a "winlog" member.
	FormatWindows = "windows"
	// FormatECS is an Elastic Common Schema document as Elastic Agent's
	// Windows and Sysmon integrations index it.
	FormatECS = "ecs"
	// FormatZeek is a Zeek log entry written by Zeek's JSON writer with the
	// log stream in "_path".
	FormatZeek = "zeek"
	// FormatSuricata is a Suricata EVE JSON record.
	FormatSuricata = "suricata"
	// FormatSyslog is an RFC 5424 syslog line carrying a Squid or nginx
	// access-log message.
	FormatSyslog = "syslog"
	// FormatCEF is an ArcSight Common Event Format line from a firewall.
	FormatCEF = "cef"
)

// Formats returns every format a scenario can emit, in a fixed order.
func Formats() []string {
	return []string{FormatWindows, FormatECS, FormatZeek, FormatSuricata, FormatSyslog, FormatCEF}
}

// IsJSON reports whether records of format are one JSON object per line.
func IsJSON(format string) bool {
	switch format {
	case FormatWindows, FormatECS, FormatZeek, FormatSuricata:
		return true
	}
	return false
}

// Record is one line of telemetry as a member's sensor would ship it.
type Record struct {
	// Member is the ID of the member organisation whose sensor produced
	// the line.
	Member string
	// Format is one of the Format constants.
	Format string
	// Time is the event time the line carries.
	Time time.Time
	// Line is the raw line, without a trailing newline.
	Line []byte
	// Label is the ground truth for a malicious record, nil for benign
	// background.
	Label *Label
}

// Label is the ground truth for one malicious record.
type Label struct {
	// Index is the record's position in the whole time-ordered stream,
	// counting from 0.
	Index int `json:"index"`
	// File and Line locate the record in the output of WriteFiles: the
	// file name and the 1-based line number within it.
	File string `json:"file"`
	Line int    `json:"line"`
	// SHA256 is the hex SHA-256 of the record's line, so that an alert
	// that kept the original event can be matched to its label.
	SHA256 string `json:"sha256"`
	// Member, Country and Format repeat the record's origin.
	Member  string `json:"member"`
	Country string `json:"country"`
	Format  string `json:"format"`
	// Host is the host the step ran on or the sensor that saw it.
	Host string `json:"host"`
	// Campaign is the Campaign.ID of the attack.
	Campaign string `json:"campaign"`
	// Technique is the MITRE ATT&CK technique or sub-technique ID.
	Technique string `json:"technique"`
	// Phase is the ATT&CK tactic the step serves, written as a STIX
	// kill_chain_phases phase_name of the "mitre-attack" kill chain.
	Phase string `json:"phase"`
	// Step describes what the record shows, in a few words.
	Step string `json:"step"`
	// Time is the record's event time.
	Time time.Time `json:"time"`
}

// ATT&CK tactics used as kill-chain phases.
const (
	PhaseInitialAccess     = "initial-access"
	PhaseExecution         = "execution"
	PhasePersistence       = "persistence"
	PhaseDefenseEvasion    = "defense-evasion"
	PhaseCredentialAccess  = "credential-access"
	PhaseDiscovery         = "discovery"
	PhaseLateralMovement   = "lateral-movement"
	PhaseCollection        = "collection"
	PhaseCommandAndControl = "command-and-control"
	PhaseExfiltration      = "exfiltration"
)
