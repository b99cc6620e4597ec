package scenario

import (
	"encoding/base64"
	"math"
	"net/netip"
	"strings"
	"time"
	"unicode/utf16"
)

// officeCurve is the share of peak activity for each local hour of a
// working day: quiet nights, a morning ramp, a lunch dip, an evening tail.
var officeCurve = [24]float64{
	0.03, 0.02, 0.02, 0.02, 0.02, 0.04, 0.10, 0.35, 0.75, 0.95, 1.00, 1.00,
	0.70, 0.90, 1.00, 0.95, 0.80, 0.50, 0.25, 0.15, 0.10, 0.07, 0.05, 0.04,
}

// activityLevel is the share of peak activity of a host of kind at t.
// Weekends run at an eighth of a weekday; servers never go below a third;
// hospitals keep a night shift.
func (s *site) activityLevel(t time.Time, kind hostKind) float64 {
	lt := t.In(s.location())
	level := officeCurve[lt.Hour()]
	if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
		level *= 0.12
	}
	if s.m.Sector == "health" {
		level = math.Max(level, 0.22)
	}
	if kind != workstation {
		level = 0.35 + 0.65*level
	}
	return level
}

// background generates the benign activity of one member in [from, to).
func (g *gen) background(e *emitter, from, to time.Time) {
	span := to.Sub(from)
	frac := span.Hours()
	at := func() time.Time { return from.Add(time.Duration(e.r.Int64N(int64(span)))) }
	mid := from.Add(span / 2)
	s := e.s
	rate := g.cfg.EventsPerHostHour * frac
	wsLevel := s.activityLevel(mid, workstation)
	for _, h := range s.ws {
		for n := poisson(e.r, rate*wsLevel); n > 0; n-- {
			g.workstationActivity(e, h, at())
		}
	}
	srvLevel := s.activityLevel(mid, appServer)
	for _, h := range s.srv {
		for n := poisson(e.r, rate*srvLevel*0.6); n > 0; n-- {
			g.serverActivity(e, h, at())
		}
	}
	for n := poisson(e.r, rate*wsLevel*float64(len(s.ws))/20); n > 0; n-- {
		g.inboundMail(e, at())
	}
	if s.m.Telemetry.WebServer {
		for n := poisson(e.r, rate*wsLevel*8); n > 0; n-- {
			g.webRequest(e, at())
		}
	}
	if s.m.Telemetry.Firewall {
		for n := poisson(e.r, 25*frac); n > 0; n-- {
			g.inboundScan(e, at())
		}
	}
}

// workstationActivity is one thing a user or the OS does on a workstation.
func (g *gen) workstationActivity(e *emitter, h *host, t time.Time) {
	switch pickWeighted(e.r, wsActivities) {
	case "browse":
		g.browse(e, h, t)
	case "m365":
		g.m365(e, h, t)
	case "app":
		g.appLaunch(e, h, t)
	case "system":
		g.systemTask(e, h, t)
	case "logon":
		g.interactiveLogon(e, h, t)
	case "share":
		g.fileShare(e, h, t)
	case "dc":
		g.domainTraffic(e, h, t)
	case "admin":
		g.adminScript(e, h, t)
	case "http":
		g.plainHTTP(e, h, t)
	}
}

var wsActivities = []weighted[string]{
	{34, "browse"}, {16, "m365"}, {14, "app"}, {10, "system"}, {5, "logon"},
	{8, "share"}, {6, "dc"}, {2, "admin"}, {5, "http"},
}

// lookup resolves name from h through the domain controller's DNS.
// sysmonPct is the share of such queries the Sysmon configuration keeps.
func (e *emitter) lookup(t time.Time, h *host, p *proc, name string, answers []netip.Addr, sysmonPct int) {
	rcode := "NOERROR"
	if len(answers) == 0 {
		rcode = "NXDOMAIN"
	}
	f := &flow{
		start: t, src: h.ip, sport: ephemeralPort(e.r), dst: e.s.dc.ip, dport: 53, proto: "udp", service: "dns",
		dur: time.Duration(2+e.r.IntN(40)) * time.Millisecond, up: int64(30 + len(name)), down: int64(46 + len(name) + 16*len(answers)),
		state: "SF", domain: name,
		dns: &dnsInfo{query: name, qtype: "A", rcode: rcode, answers: answers, ttl: 60 + e.r.IntN(3540)},
	}
	e.network(f)
	if p != nil && e.r.IntN(100) < sysmonPct {
		e.dnsQuery(t, h, p, name, answers)
	}
}

// httpsTo opens a TLS connection from p on h to name at dst and logs it.
// sysmonPct is the share of such connections the Sysmon configuration
// keeps; Suricata alerts that fire on the connection are given in alerts.
func (e *emitter) httpsTo(t time.Time, h *host, p *proc, name string, dst netip.Addr, prof tlsProfile, up, down int64, proxied bool, sysmonPct int, alerts ...sigAlert) *flow {
	f := e.newHTTPS(t, h, name, dst, prof, up, down, proxied, alerts...)
	e.send(h, p, f, sysmonPct)
	return f
}

// newHTTPS describes a TLS connection without logging it, for callers
// that adjust it first.
func (e *emitter) newHTTPS(t time.Time, h *host, name string, dst netip.Addr, prof tlsProfile, up, down int64, proxied bool, alerts ...sigAlert) *flow {
	f := &flow{
		start: t, src: h.ip, sport: ephemeralPort(e.r), dst: dst, dport: 443, proto: "tcp", service: "ssl",
		dur: time.Duration(logNormal(e.r, 1.5e9, 1.2)), up: up, down: down, state: "SF", domain: name, proxied: proxied,
		tls: newTLS(e.r, prof, name, e.r.IntN(10) < 7), alerts: alerts,
	}
	if proxied && h.user != nil {
		f.user = h.user.name
	}
	return f
}

// send logs f on the network sensors and, for sysmonPct percent of
// connections, as Sysmon event 3 of p.
func (e *emitter) send(h *host, p *proc, f *flow, sysmonPct int) {
	e.network(f)
	if p != nil && e.r.IntN(100) < sysmonPct {
		e.netConn(f.start, h, p, f)
	}
}

func (g *gen) browse(e *emitter, h *host, t time.Time) {
	name := g.pool.pick(e.r)
	if e.r.IntN(5) == 0 {
		name = pick(e.r, localDomains[e.s.m.Locale])
	}
	answers := domainAnswers(name)
	e.lookup(t, h, h.browser, name, answers, 15)
	var alerts []sigAlert
	if strings.HasSuffix(name, "dropbox.com") {
		alerts = append(alerts, sigDropbox)
	}
	e.httpsTo(t.Add(time.Duration(5+e.r.IntN(30))*time.Millisecond), h, h.browser, name, answers[0], chromiumTLS,
		int64(logNormal(e.r, 2500, 1)), int64(logNormal(e.r, 60000, 1.6)), true, 3, alerts...)
	if e.r.IntN(40) == 0 {
		// Saving a download from the page.
		doc := pick(e.r, []string{"Angebot.pdf", "brochure.pdf", "report_2024.pdf", "agenda.pdf", "setup.msi", "data.csv"})
		e.fileCreate(t.Add(2*time.Second), h, h.browser, `C:\Users\`+h.user.name+`\Downloads\`+doc)
	}
}

// m365 is Outlook, Teams and OneDrive talking to Microsoft 365. OneDrive
// sometimes uploads hundreds of megabytes: the benign twin of exfiltration.
func (g *gen) m365(e *emitter, h *host, t time.Time) {
	tenant := strings.ToLower(strings.ReplaceAll(e.s.m.NetBIOS, " ", ""))
	type svc struct {
		name string
		p    *proc
	}
	choices := []svc{
		{"outlook.office365.com", h.outlook}, {"teams.microsoft.com", h.teams},
		{tenant + ".sharepoint.com", h.browser}, {tenant + "-my.sharepoint.com", nil},
		{"login.microsoftonline.com", h.outlook},
	}
	c := pick(e.r, choices)
	p := c.p
	up, down := int64(logNormal(e.r, 4000, 1)), int64(logNormal(e.r, 40000, 1.3))
	if p == nil {
		p = makeProc(e.r, h, h.explorer, bin("onedrive"), `"C:\Users\`+h.user.name+`\AppData\Local\Microsoft\OneDrive\OneDrive.exe" /background`, "")
		if e.r.IntN(6) == 0 {
			up = int64(logNormal(e.r, 80e6, 1))
		}
	}
	answers := domainAnswers(c.name)
	e.lookup(t, h, p, c.name, answers, 10)
	e.httpsTo(t.Add(20*time.Millisecond), h, p, c.name, answers[0], schannelTLS, up, down, true, 20)
}

func (g *gen) appLaunch(e *emitter, h *host, t time.Time) {
	u := h.user.name
	share := `\\` + strings.ToLower(e.s.fs.name) + `\Abteilungen\`
	switch e.r.IntN(8) {
	case 0, 1:
		doc := pick(e.r, e.s.loc.docs)
		b := bin("winword")
		if strings.HasSuffix(doc, ".xlsx") {
			b = bin("excel")
		}
		e.spawn(t, h, h.explorer, b, `"`+b.path+`" /n "`+share+doc+`"`, "")
	case 2:
		e.spawn(t, h, h.explorer, bin("acrord"), `"C:\Program Files\Adobe\Acrobat DC\Acrobat\Acrobat.exe" "C:\Users\`+u+`\Downloads\agenda.pdf"`, "")
	case 3:
		e.spawn(t, h, h.explorer, bin("notepad"), `"C:\Windows\system32\NOTEPAD.EXE" C:\Users\`+u+`\Desktop\notes.txt`, "")
	case 4:
		cmd := e.spawn(t, h, h.explorer, bin("cmd"), `"C:\Windows\system32\cmd.exe" `, "")
		e.spawn(t.Add(4*time.Second), h, cmd, bin("ipconfig"), `ipconfig  /all`, "")
	case 5:
		e.spawn(t, h, h.explorer, bin("powerpnt"), `"`+bin("powerpnt").path+`" "C:\Users\`+u+`\Documents\Praesentation.pptx"`, "")
	case 6:
		// Outlook opens an attachment in Word: the benign twin of the lure.
		e.spawn(t, h, h.outlook, bin("winword"), `"`+bin("winword").path+`" /n "C:\Users\`+u+`\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\`+strings.ToUpper(randHex(e.r, 8))+`\`+pick(e.r, e.s.loc.docs)+`" /o ""`, "")
	default:
		e.spawn(t, h, h.explorer, bin("msedge"), `"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --single-argument https://intranet.`+e.s.m.Domain+`/`, "")
	}
}

func (g *gen) systemTask(e *emitter, h *host, t time.Time) {
	const system = `NT AUTHORITY\SYSTEM`
	switch e.r.IntN(9) {
	case 0:
		e.spawn(t, h, h.svcNet, bin("taskhostw"), `taskhostw.exe Install $(Arg0)`, system)
	case 1:
		e.spawn(t, h, h.svcNet, bin("musnotify"), `%systemroot%\system32\MusNotification.exe`, system)
	case 2:
		e.spawn(t, h, h.svcNet, bin("backgroundth"), `"C:\Windows\system32\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountBackgroundTask`, sessionUser(h))
	case 3:
		e.spawn(t, h, h.svcNet, bin("searchproto"), `"C:\Windows\system32\SearchProtocolHost.exe" Global\UsGthrFltPipeMssGthrPipe5_ Global\UsGthrCtrlFltPipeMssGthrPipe5 1 -2147483646 "Software\Microsoft\Windows Search" "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)" "C:\ProgramData\Microsoft\Search\Data\Temp\usgthrsvc" "DownLevelDaemon" `, system)
	case 4:
		e.spawn(t, h, h.svcNet, bin("mpcmdrun"), `"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24010.12-0\MpCmdRun.exe" -IdleTask -TaskName WdCacheMaintenance`, system)
	case 5:
		p := e.spawn(t, h, h.svcNet, bin("mpcmdrun"), `"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24010.12-0\MpCmdRun.exe" -SignatureUpdate -ScheduleJob -RestrictPrivileges`, system)
		name := "definitionupdates.microsoft.com"
		a := domainAnswers(name)
		e.lookup(t.Add(time.Second), h, p, name, a, 100)
		e.httpsTo(t.Add(time.Second+30*time.Millisecond), h, p, name, a[0], schannelTLS, 3000, int64(logNormal(e.r, 2e6, 1)), false, 100)
	case 6:
		e.spawn(t, h, h.services, bin("officeclick"), `"C:\Program Files\Common Files\Microsoft Shared\ClickToRun\OfficeClickToRun.exe" /service`, system)
	case 7:
		// Office's own scheduled task: a documented exception in public
		// detection rules for task creation.
		e.spawn(t, h, h.svcNet, bin("schtasks"), `schtasks.exe /Create /tn "Microsoft\Office\Office Performance Monitor" /XML "C:\ProgramData\Microsoft\ClickToRun\{9AC08E99-230B-47e8-9721-4577B7F124EA}\Microsoft_Office_Office Performance Monitor.xml" /F`, system)
	default:
		e.spawn(t, h, h.svcNet, bin("gpupdate"), `gpupdate.exe /target:computer`, system)
	}
}

// sessionUser returns the workstation user's qualified name, or SYSTEM.
func sessionUser(h *host) string {
	if h.explorer != nil {
		return h.explorer.user
	}
	return `NT AUTHORITY\SYSTEM`
}

func (g *gen) interactiveLogon(e *emitter, h *host, t time.Time) {
	u := h.user
	user := e.s.qualified(u)
	if e.r.IntN(8) == 0 {
		// A mistyped password before the right one.
		e.logon(t, h, user, u.sid, 7, netip.MustParseAddr("127.0.0.1"), h.name, false)
		t = t.Add(time.Duration(3+e.r.IntN(8)) * time.Second)
	}
	e.logon(t, h, user, u.sid, pick(e.r, []int{7, 7, 7, 2, 11}), netip.MustParseAddr("127.0.0.1"), h.name, true)
}

// fileShare is a user opening the department share: SMB to the file
// server and a network logon there.
func (g *gen) fileShare(e *emitter, h *host, t time.Time) {
	fs := e.s.fs
	f := &flow{start: t, src: h.ip, sport: ephemeralPort(e.r), dst: fs.ip, dport: 445, proto: "tcp", service: "smb,gssapi",
		dur: time.Duration(logNormal(e.r, 20e9, 1.5)), up: int64(logNormal(e.r, 40000, 1.5)), down: int64(logNormal(e.r, 800000, 1.8)), state: "SF"}
	e.network(f)
	e.logon(t.Add(15*time.Millisecond), fs, e.s.qualified(h.user), h.user.sid, 3, h.ip, h.name, true)
}

// domainTraffic is Kerberos and LDAP to the domain controller.
func (g *gen) domainTraffic(e *emitter, h *host, t time.Time) {
	dc := e.s.dc
	srv := "_ldap._tcp.dc._msdcs." + e.s.m.Domain
	e.network(&flow{start: t, src: h.ip, sport: ephemeralPort(e.r), dst: dc.ip, dport: 53, proto: "udp", service: "dns",
		dur: time.Duration(1+e.r.IntN(5)) * time.Millisecond, up: int64(30 + len(srv)), down: int64(120 + 2*len(srv)), state: "SF", domain: srv,
		dns: &dnsInfo{query: srv, qtype: "SRV", rcode: "NOERROR", ttl: 600}})
	for _, port := range []uint16{88, 389} {
		svc := map[uint16]string{88: "krb_tcp", 389: "ldap"}[port]
		f := &flow{start: t.Add(10 * time.Millisecond), src: h.ip, sport: ephemeralPort(e.r), dst: dc.ip, dport: port, proto: "tcp", service: svc,
			dur: time.Duration(5+e.r.IntN(200)) * time.Millisecond, up: int64(1500 + e.r.IntN(3000)), down: int64(1500 + e.r.IntN(6000)), state: "SF"}
		e.network(f)
	}
	machine := e.s.m.NetBIOS + `\` + h.name + "$"
	e.logon(t.Add(20*time.Millisecond), dc, machine, e.s.sid+"-"+itoa(int(h.recordBase%9000)+2000), 3, h.ip, "-", true)
}

// encodePS encodes a script for powershell -EncodedCommand (UTF-16LE,
// base64).
func encodePS(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// adminScript is IT automation: configuration management running encoded
// PowerShell, logon scripts and software inventory. These look like the
// attack's PowerShell to a careless rule.
func (g *gen) adminScript(e *emitter, h *host, t time.Time) {
	const system = `NT AUTHORITY\SYSTEM`
	ps := bin("powershell")
	switch e.r.IntN(3) {
	case 0:
		script := "Get-CimInstance -ClassName Win32_OperatingSystem | Select-Object LastBootUpTime, Version | ConvertTo-Json -Compress"
		ccm := makeProc(e.r, h, h.services, bin("ccmexec"), `C:\Windows\CCM\CcmExec.exe`, system)
		p := e.spawn(t, h, ccm, ps, `"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoLogo -NonInteractive -ExecutionPolicy Bypass -EncodedCommand `+encodePS(script), system)
		e.scriptBlock(t.Add(300*time.Millisecond), h, p, script, "")
	case 1:
		path := `\\` + e.s.m.Domain + `\NETLOGON\Map-Drives.ps1`
		p := e.spawn(t, h, h.explorer, ps, `powershell.exe -ExecutionPolicy Bypass -NoProfile -WindowStyle Hidden -File "`+path+`"`, "")
		e.scriptBlock(t.Add(400*time.Millisecond), h, p, `New-PSDrive -Name "S" -PSProvider FileSystem -Root "\\`+strings.ToLower(e.s.fs.name)+`\Abteilungen" -Persist -Scope Global`, path)
	default:
		url := "https://intranet." + e.s.m.Domain + "/software/agent.msi"
		script := `[Net.ServicePointManager]::SecurityProtocol = 'Tls12'; Invoke-WebRequest -Uri ` + url + ` -OutFile C:\Windows\Temp\agent.msi -UseBasicParsing`
		p := e.spawn(t, h, h.svcNet, ps, `powershell.exe -NoProfile -Command "`+script+`"`, system)
		e.scriptBlock(t.Add(300*time.Millisecond), h, p, script, "")
		e.fileCreate(t.Add(2*time.Second), h, p, `C:\Windows\Temp\agent.msi`)
	}
}

// plainHTTP is the unencrypted HTTP Windows still does: certificate
// revocation and update metadata.
func (g *gen) plainHTTP(e *emitter, h *host, t time.Time) {
	type req struct{ host, uri, ua, mime string }
	r := pick(e.r, []req{
		{"ctldl.windowsupdate.com", "/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab?" + randHex(e.r, 16), "Microsoft-CryptoAPI/10.0", "application/vnd.ms-cab-compressed"},
		{"ocsp.digicert.com", "/MFEwTzBNMEswSTAJBgUrDgMCGgUABBQ" + randHex(e.r, 20), "Microsoft-CryptoAPI/10.0", "application/ocsp-response"},
		{"r11.o.lencr.org", "/MFMwUTBPME0wSzAJBgUrDgMCGgUABBR" + randHex(e.r, 20), "Microsoft-CryptoAPI/10.0", "application/ocsp-response"},
		{"www.msftconnecttest.com", "/connecttest.txt", "Microsoft NCSI", "text/plain"},
	})
	a := domainAnswers(r.host)
	p := h.svcNet
	e.lookup(t, h, p, r.host, a, 5)
	f := &flow{start: t.Add(15 * time.Millisecond), src: h.ip, sport: ephemeralPort(e.r), dst: a[0], dport: 80, proto: "tcp", service: "http",
		dur: time.Duration(20+e.r.IntN(300)) * time.Millisecond, up: int64(200 + e.r.IntN(300)), down: int64(400 + e.r.IntN(20000)), state: "SF",
		domain: r.host, proxied: true,
		http: &httpInfo{method: "GET", uri: r.uri, ua: r.ua, status: 200, mime: r.mime}}
	f.http.respLen = f.down - 300
	e.network(f)
}

// serverActivity is one thing a Windows server does on its own.
func (g *gen) serverActivity(e *emitter, h *host, t time.Time) {
	const system = `NT AUTHORITY\SYSTEM`
	switch e.r.IntN(6) {
	case 0:
		e.spawn(t, h, h.svcNet, bin("taskhostw"), `taskhostw.exe`, system)
	case 1:
		// A user session to the server from a random workstation.
		src := pick(e.r, e.s.ws)
		e.logon(t, h, e.s.qualified(src.user), src.user.sid, 3, src.ip, src.name, true)
	case 2:
		ps := e.spawn(t, h, h.svcNet, bin("powershell"), `powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\Scripts\Cleanup-Logs.ps1`, system)
		e.scriptBlock(t.Add(200*time.Millisecond), h, ps, `Get-ChildItem -Path C:\inetpub\logs -Recurse -Filter *.log | Where-Object { $_.LastWriteTime -lt (Get-Date).AddDays(-30) } | Remove-Item -Force`, `C:\Scripts\Cleanup-Logs.ps1`)
	case 3:
		e.spawn(t, h, h.services, bin("svchost"), `C:\Windows\system32\svchost.exe -k netsvcs -p -s wuauserv`, system)
		name := "fe2cr.update.microsoft.com"
		a := domainAnswers(name)
		e.lookup(t, h, h.svcNet, name, a, 0)
		e.httpsTo(t.Add(40*time.Millisecond), h, h.svcNet, name, a[0], schannelTLS, 6000, int64(logNormal(e.r, 30000, 1)), false, 50)
	case 4:
		// A service account's scheduled job: logon type 5.
		e.logon(t, h, e.s.m.NetBIOS+`\svc_backup`, e.s.sid+"-4120", 5, netip.Addr{}, "-", true)
	default:
		if h == e.s.fs && e.s.activityLevel(t, workstation) < 0.1 {
			// The nightly backup copies the shares to the backup server:
			// large internal transfers at night.
			dst := e.s.srv[len(e.s.srv)-1]
			f := &flow{start: t, src: h.ip, sport: ephemeralPort(e.r), dst: dst.ip, dport: 445, proto: "tcp", service: "smb",
				dur: time.Duration(logNormal(e.r, 600e9, 0.5)), up: int64(logNormal(e.r, 5e9, 0.6)), down: 200000, state: "SF"}
			e.network(f)
			e.spawn(t, h, h.svcNet, bin("robocopy"), `robocopy.exe D:\Shares \\`+strings.ToLower(dst.name)+`\backup$\shares /MIR /R:1 /W:1 /NP /LOG:C:\Logs\backup.log`, e.s.m.NetBIOS+`\svc_backup`)
			return
		}
		e.spawn(t, h, h.services, bin("svchost"), `C:\Windows\system32\svchost.exe -k LocalService -p -s BthAvctpSvc`, `NT AUTHORITY\LOCAL SERVICE`)
	}
}

// externalAddr returns a random public address outside the member.
func (e *emitter) externalAddr() netip.Addr {
	return addrIn(pick(e.r, genericBlocks), e.r.Uint64())
}

// inboundMail is a benign e-mail arriving at the member's mail gateway.
func (g *gen) inboundMail(e *emitter, t time.Time) {
	senders := []string{"newsletter@news.heise.de", "noreply@linkedin.com", "service@paypal.de", "info@enisa.europa.eu", "no-reply@microsoft.com", "invoice@dhl.com", "team@zoom.us"}
	from := pick(e.r, senders)
	to := pick(e.r, e.s.users)
	_, dom, _ := strings.Cut(from, "@")
	f := &flow{start: t, src: e.externalAddr(), sport: ephemeralPort(e.r), dst: e.s.mailGateway().ip, dport: 25, proto: "tcp", service: "smtp",
		dur: time.Duration(logNormal(e.r, 2e9, 0.5)), up: int64(logNormal(e.r, 40000, 1)), down: 1200, state: "SF", inbound: true,
		smtp: &smtpInfo{helo: "mail." + dom, from: from, to: to.mail, subject: pick(e.r, []string{"Your weekly digest", "Meeting invitation", "Newsletter", "Your invoice is ready", "Security update"})}}
	e.network(f)
}

// mailGateway is the server that receives internet mail.
func (s *site) mailGateway() *host {
	for _, h := range s.srv {
		if strings.Contains(h.name, "EXCH") {
			return h
		}
	}
	return s.srv[len(s.srv)-1]
}

// webRequest is a request from the internet to the member's public web
// server, now and then from a scanner probing for well-known weaknesses.
func (g *gen) webRequest(e *emitter, t time.Time) {
	client := e.externalAddr()
	a := &nginxAccess{client: client.String(), method: "GET", status: 200,
		ua: pick(e.r, []string{
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
		})}
	a.uri = pick(e.r, []string{"/", "/login", "/static/app.js", "/static/style.css", "/api/v1/status", "/images/logo.svg", "/contact", "/favicon.ico"})
	a.bytes = int64(logNormal(e.r, 8000, 1.2))
	var alert *sigAlert
	if e.r.IntN(12) == 0 {
		a.uri = pick(e.r, []string{"/wp-login.php", "/.env", "/.git/config", "/cgi-bin/luci/;stok=/locale", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/actuator/health"})
		a.ua = pick(e.r, []string{"Mozilla/5.0 zgrab/0.x", "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", "python-requests/2.31.0", "curl/8.4.0"})
		a.status, a.bytes = 404, 153
		alert = &sigWebScan
	} else if e.r.IntN(5) == 0 {
		a.method, a.uri, a.status = "POST", "/login", 302
	}
	e.nginx(t, a)
	site := "www." + e.s.m.MailDomain
	f := &flow{start: t.Add(-80 * time.Millisecond), src: client, sport: ephemeralPort(e.r), dst: e.s.web.ip, dport: 443, proto: "tcp", service: "ssl",
		dur: 300 * time.Millisecond, up: 900, down: a.bytes + 600, state: "SF", inbound: true, domain: site,
		tls: newTLS(e.r, chromiumTLS, site, true)}
	if alert != nil {
		// Scanners speak plain HTTP, where the IDS sees the request.
		f.dport, f.service, f.tls = 80, "http", nil
		f.http = &httpInfo{method: a.method, uri: a.uri, ua: a.ua, status: a.status, respLen: a.bytes, mime: "text/html"}
		e.benignAlert(f, *alert)
	}
	e.network(f)
}

// inboundScan is internet background radiation the firewall drops.
func (g *gen) inboundScan(e *emitter, t time.Time) {
	port := pick(e.r, []uint16{22, 23, 445, 3389, 1433, 5900, 8080, 6379})
	f := &flow{start: t, src: e.externalAddr(), sport: uint16(1024 + e.r.IntN(60000)), dst: e.s.m.Egress, dport: port, proto: "tcp",
		state: "S0", inbound: true, blocked: true}
	e.network(f)
}

// Benign Suricata signatures: policy and scan noise every SOC sees.
var (
	sigDropbox = sigAlert{2012647, 6, "ET POLICY Dropbox.com Offsite File Backup in Use", "Potential Corporate Privacy Violation", 1}
	sigWebScan = sigAlert{2024364, 4, "ET SCAN Possible Nmap User-Agent Observed", "Web Application Attack", 1}
)

// benignAlert attaches a Suricata alert to f.
func (e *emitter) benignAlert(f *flow, a sigAlert) {
	f.alerts = append(f.alerts, a)
}
