// Package scenario generates realistic, labelled security telemetry for a
// community of member organisations in several EU member states, with
// attack campaigns that reuse one actor's infrastructure against members
// in different countries. xsoc uses it for its demonstration, for end-to-end
// tests of ingest and detection, and for measuring detection quality
// against ground truth.
//
// # Determinism
//
// Everything derives from Config.Seed through math/rand/v2 PCG generators,
// one independent stream per member and hour, per campaign and per victim;
// there is no global random state and no reading of the clock. The same
// Config yields byte-identical output; a different seed yields a different
// scenario. Hashes of binaries are derived from their paths, so the same
// binary has the same hash on every host, and the campaign's files have
// the same hash at every victim.
//
// # Members
//
// DefaultMembers returns four fictitious organisations, each with its own
// Active Directory domain, host naming, user naming (per language),
// RFC 1918 range, public egress address (documentation ranges) and sensors:
//
//	de-energie  Rheintal Energie AG              DE  energy                 private  10.20.0.0/16
//	            Sysmon+Security via winlogbeat, Zeek, Squid proxy (syslog), FortiGate (CEF)
//	fr-soc      Centre opérationnel de cybersécurité interministériel
//	                                             FR  public administration  public   10.64.0.0/16
//	            winlogbeat, Suricata, Squid proxy
//	se-sjukhus  Västerhavets universitetssjukhus  SE  health                 public   172.20.0.0/16
//	            Elastic Agent (ECS documents), Suricata, Squid, public nginx web server
//	nl-bank     Zuiderbank N.V.                   NL  banking                private  10.128.0.0/16
//	            winlogbeat, Zeek, Suricata, firewall (CEF), public nginx web server
//
// Workstations run Sysmon (process creation 1, network 3, process access
// 10, file creation 11, DNS 22); Windows servers log process creation as
// Security 4688 with command lines, except at members whose Elastic Agent
// runs Sysmon everywhere. All Windows hosts log logons (4624/4625) and
// PowerShell script blocks (4104); service installs appear as System 7045.
//
// # Wire formats
//
// Records are what the real tools emit, one per line:
//
//   - "windows": winlogbeat 7.17 JSON (winlog.event_id and record_id are
//     numbers, event_data values strings, a rendered message).
//   - "ecs": Elastic Agent Windows/Sysmon integration documents (ECS 8
//     process, user, source, destination, dns, file, powershell fields
//     plus the raw winlog object).
//   - "zeek": Zeek JSON logs with "_path": conn, dns, ssl (with JA3/JA3S),
//     http and smtp, epoch-seconds ts, Community ID in conn.
//   - "suricata": EVE JSON: dns (query and v2 answer), tls (with JA3),
//     http, smtp, flow and alert records sharing flow_id and community_id.
//   - "syslog": RFC 5424 lines carrying Squid native access.log lines
//     (local4.info) and nginx combined access lines (local7.info).
//   - "cef": FortiGate or PAN-OS traffic logs in CEF (fixed per member).
//
// # Background
//
// Benign activity follows the member's local working day: a morning ramp,
// a lunch dip and a quiet night (a hospital keeps a night shift); weekends
// run at about an eighth of a weekday; servers never drop below a third.
// Per workstation and hour the generator draws a Poisson number of
// activities: browsing (Zipf-distributed popular domains, a built-in list
// optionally extended with a MISP warning list via LoadWarninglist, plus
// national sites), Microsoft 365 traffic (including large OneDrive
// uploads), application launches from Explorer and Outlook, Windows
// housekeeping (Defender, Windows Update, search, Office's own scheduled
// task), logons with the odd mistyped password, file-share access with
// network logons on the file server, Kerberos and LDAP to the domain
// controller, plain-HTTP certificate checks, and IT automation that looks
// like an attack to a careless rule (configuration management running
// -EncodedCommand PowerShell, logon scripts, Invoke-WebRequest installers).
// Servers run maintenance scripts, service-account jobs and a nightly
// multi-gigabyte backup. The mail gateway receives newsletters, public web
// servers receive browsers and scanners, firewalls drop internet scans, and
// Suricata raises the usual policy and scan alerts.
//
// # Campaigns
//
// Each campaign has its own sender domain and mail server, macro lure,
// implant, credential dumper, compromised staging site, a weekly DGA of
// thirty names of which two are registered, two C2 addresses in VPS ranges
// and a Go TLS client fingerprint. It hits three or four members (all, if
// fewer), the first two in different countries, VictimGap apart (hours in
// DefaultConfig, minutes in DemoConfig). Against each victim, with delays scaled by
// StepScale, it runs:
//
//	T1566.001  initial-access       macro document mailed to a user; Outlook saves it
//	T1204.002  execution            the user opens it: WINWORD.EXE starts from OUTLOOK.EXE
//	T1059.001  execution            Word spawns powershell -nop -w hidden -enc JAB...;
//	                                then IEX (New-Object Net.WebClient).DownloadString(...)
//	T1105      command-and-control  stages and the implant fetched over HTTP from the staging site
//	T1036.005  defense-evasion      implant runs as %APPDATA%\Microsoft\OneDriveUpdater\OneDriveUpdater.exe
//	T1053.005  persistence          schtasks /create for the implant
//	T1568.002  command-and-control  DGA: a burst of NXDOMAIN lookups until a registered name answers
//	T1071.001  command-and-control  HTTPS beacons every BeaconInterval ±BeaconJitter (20%) until the end
//	T1059.003, T1033, T1069.002, T1482  discovery through cmd: whoami /all, net group, nltest /dclist:
//	T1003.001  credential-access    rundll32 comsvcs.dll MiniDump of LSASS, or a renamed Mimikatz
//	                                (sekurlsa::logonpasswords), with Sysmon 10 access to lsass.exe
//	T1570, T1021.002, T1569.002     PsExec -accepteula \\fileserver -u -p ..., PSEXESVC service
//	  or T1047                      wmic /node: process call create
//	T1078.002  lateral-movement     4624 logon type 3 on the file server with a stolen admin account
//	T1560.001  collection           7z archive of the finance share with a password
//	T1567.002  exfiltration         rclone copy ... mega: --config --no-check-certificate
//	                                (gigabytes to MEGA), or curl -T to transfer.sh
//
// The command lines match public SigmaHQ process-creation rules (Office
// spawning PowerShell, encoded commands, download cradles, comsvcs
// MiniDump, Mimikatz, PsExec, rclone, nltest, schtasks), and the network
// side triggers Suricata signatures in the style of ET Open.
//
// # Extras
//
// Config.Extras (off by default; AllExtras switches every part on) adds
// to each victim's intrusion, from the random stream "extras" of the
// campaign and victim (newRand(Seed, "extras", campaign, victim)), at
// nominal delays after the lure is opened (scaled by StepScale):
//
//	T1046      discovery            25 min: TCP scan of ~1,050 ports on the DC and the file
//	                                server, then 445 and 3389 over the workstations (Zeek conn,
//	                                Suricata flow; S0, REJ or SF per port)
//	T1078.004  initial-access       50 min: the user signs in to Entra ID at home, then the
//	                                stolen password signs in three times from a hosting network
//	                                on another continent (impossible travel)
//	T1568.002  command-and-control  60 min: a fallback DGA burst of 150 NXDOMAIN names
//	T1041      exfiltration         100 min: 40 HTTPS uploads of ~60 MB each to the C2 server
//
// Impossible travel also adds benign Entra ID sign-ins (Elastic Agent's
// azure.signinlogs documents in FormatECS, with source.geo and source.as)
// for every user of every member, from the stream "signin" of the member
// and hour: from the office egress, from home networks of the member's
// country outside office hours, one in 300 from a trip to another EU
// country, one in 40 failing. With Extras zero no extra stream is drawn
// and the output is unchanged.
//
// # Labels and output
//
// Every record an attack step produces carries a Label: stream index, file
// and line, SHA-256 of the line, member, country, host, campaign, ATT&CK
// technique, tactic (as STIX "mitre-attack" kill-chain phase), step and
// time. Stream delivers records in time order, an hour at a time;
// Generate keeps them in memory; WriteDir and Scenario.WriteFiles write
// <member>.<format>.ndjson (or .log for syslog and CEF), labels.ndjson,
// indicators.ndjson (Campaign.Indicators with MISP attribute types) and
// manifest.json.
//
// DemoConfig is the profile for a live demonstration: two hours of a
// Tuesday morning, the first phishing e-mail ten minutes in, further
// victims in other countries about nine minutes apart, each intrusion from
// e-mail to exfiltration in about eight simulated minutes.
package scenario
