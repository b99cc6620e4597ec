// Package sigmabench generates deterministic, realistic Windows Sysmon
// process-creation events for benchmarking and testing the Sigma engine:
// diverse images, command lines, parents, users and hashes, shaped as
// xsoc's Windows parser emits them (every EventData field verbatim under
// winlog.event_data.<Name> plus the ECS fields), with a chosen share of
// true positives built from the needles of the rules under test.
package sigmabench

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/event"
)

// Config says what to generate.
type Config struct {
	// Events is how many events to generate.
	Events int
	// Seed makes the output reproducible.
	Seed uint64
	// Positives is the share of events built to match one of Rules
	// (0.015 = 1.5 %). Some of them may still not match: a rule's filters
	// can exclude the constructed event.
	Positives float64
	// Rules are the rules whose needles true positives are built from.
	Rules []*sigma.Rule
}

type program struct {
	image, original, description, product, company string
	args                                           []string
	// parents are images that plausibly start this program; empty means
	// the user's shell (explorer.exe).
	parents []string
}

const (
	explorer  = `C:\Windows\explorer.exe`
	services  = `C:\Windows\System32\services.exe`
	svchost   = `C:\Windows\System32\svchost.exe`
	cmdExe    = `C:\Windows\System32\cmd.exe`
	chromeExe = `C:\Program Files\Google\Chrome\Application\chrome.exe`
	edgeExe   = `C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`
	indexer   = `C:\Windows\System32\SearchIndexer.exe`
)

// users split into interactive users and service accounts.
var (
	people   = []string{`CORP\alice`, `CORP\bob`, `CORP\carol`, `CORP\dave`}
	accounts = []string{`NT AUTHORITY\SYSTEM`, `NT AUTHORITY\LOCAL SERVICE`, `NT AUTHORITY\NETWORK SERVICE`}
)

var programs = []program{
	{`C:\Windows\System32\svchost.exe`, "svchost.exe", "Host Process for Windows Services", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{"-k netsvcs -p -s Schedule", "-k LocalServiceNetworkRestricted -p", "-k DcomLaunch -p", "-k RPCSS -p", "-k UnistackSvcGroup"}, []string{services}},
	{`C:\Windows\System32\conhost.exe`, "CONHOST.EXE", "Console Window Host", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{"0xffffffff -ForceV1", ""}, []string{cmdExe}},
	{`C:\Windows\System32\RuntimeBroker.exe`, "RuntimeBroker.exe", "Runtime Broker", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{"-Embedding"}, []string{svchost}},
	{`C:\Program Files\Google\Chrome\Application\chrome.exe`, "chrome.exe", "Google Chrome", "Google Chrome", "Google LLC", []string{"--type=renderer --field-trial-handle=%d --lang=en-US --renderer-client-id=%d", "--type=gpu-process --gpu-preferences=%d", "--type=utility --utility-sub-type=network.mojom.NetworkService --lang=en-US --service-sandbox-type=none", "https://intranet.example.com/page/%d"}, []string{explorer, chromeExe}},
	{`C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`, "Outlook.exe", "Microsoft Outlook", "Microsoft Office", "Microsoft Corporation", []string{"", "/recycle"}, []string{explorer}},
	{`C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`, "WinWord.exe", "Microsoft Word", "Microsoft Office", "Microsoft Corporation", []string{`/n "C:\Users\%u\Documents\report-%d.docx"`, "/Automation -Embedding"}, []string{explorer}},
	{`C:\Windows\System32\taskhostw.exe`, "taskhostw.exe", "Host Process for Windows Tasks", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{"", "Install $(Arg0)"}, []string{svchost}},
	{`C:\Windows\System32\backgroundTaskHost.exe`, "backgroundTaskHost.exe", "Background Task Host", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{`-ServerName:BackgroundTaskHost.WebAccountProvider`}, []string{svchost}},
	{`C:\Windows\System32\SearchProtocolHost.exe`, "SearchProtocolHost.exe", "Microsoft Windows Search Protocol Host", "Windows® Search", "Microsoft Corporation", []string{`Global\UsGthrFltPipeMssGthrPipe%d_ Global\UsGthrCtrlFltPipeMssGthrPipe%d 1 -2147483646 "Software\Microsoft\Windows Search"`}, []string{indexer}},
	{`C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`, "msedge.exe", "Microsoft Edge", "Microsoft Edge", "Microsoft Corporation", []string{"--type=renderer --instant-process --lang=en-GB --js-flags=--ms-user-locale= --device-scale-factor=1 --num-raster-threads=4 --enable-main-frame-before-activation --renderer-client-id=%d"}, []string{edgeExe}},
	{`C:\Windows\System32\cmd.exe`, "Cmd.Exe", "Windows Command Processor", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{`/c "C:\ProgramData\backup\nightly-%d.bat"`, `/c type "C:\ProgramData\backup\last-%d.log"`}, []string{explorer}},
	{`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "PowerShell.EXE", "Windows PowerShell", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{`-NoProfile -File C:\Scripts\inventory-%d.ps1`, `-Command Get-Service | Where-Object Status -eq Running`, `-ExecutionPolicy RemoteSigned -File "C:\Program Files\Agent\health.ps1"`}, []string{explorer}},
	{`C:\Program Files\Microsoft VS Code\Code.exe`, "electron.exe", "Visual Studio Code", "Visual Studio Code", "Microsoft Corporation", []string{`--type=utility --utility-sub-type=node.mojom.NodeService --lang=en-US --service-sandbox-type=none --user-data-dir="C:\Users\%u\AppData\Roaming\Code"`}, []string{explorer}},
	{`C:\Windows\System32\wbem\WmiPrvSE.exe`, "Wmiprvse.exe", "WMI Provider Host", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{"-secured -Embedding", "-Embedding"}, []string{svchost}},
	{`C:\Windows\System32\dllhost.exe`, "dllhost.exe", "COM Surrogate", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{"/Processid:{3EB3C877-1F16-487C-9050-104DBCD66683}", "/Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}"}, []string{svchost}},
	{`C:\Program Files\Git\cmd\git.exe`, "git.exe", "Git for Windows", "Git", "The Git Development Community", []string{"status --porcelain", "fetch origin main", "log -n %d --oneline"}, []string{cmdExe}},
	{`C:\Windows\System32\msiexec.exe`, "msiexec.exe", "Windows® installer", "Windows Installer - Unicode", "Microsoft Corporation", []string{"/V"}, []string{services}},
	{`C:\Program Files\7-Zip\7z.exe`, "7z.exe", "7-Zip Console", "7-Zip", "Igor Pavlov", []string{`x "C:\Users\%u\Downloads\archive-%d.zip" -o"C:\Users\%u\Downloads\archive"`}, []string{cmdExe}},
	{`C:\Windows\System32\notepad.exe`, "NOTEPAD.EXE", "Notepad", "Microsoft® Windows® Operating System", "Microsoft Corporation", []string{`"C:\Users\%u\Desktop\notes-%d.txt"`, ""}, []string{explorer}},
	{`C:\Program Files\Zoom\bin\Zoom.exe`, "Zoom.exe", "Zoom Meetings", "Zoom Meetings", "Zoom Video Communications, Inc.", []string{"--url=zoommtg://zoom.us/join?confno=%d"}, []string{explorer}},
}

// Generate returns cfg.Events events; the same Config gives the same
// events.
func Generate(cfg Config) []*event.Event {
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5157a))
	base := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	var witnesses []*sigma.Rule
	for _, rule := range cfg.Rules {
		if rule.Detection != nil {
			witnesses = append(witnesses, rule)
		}
	}
	out := make([]*event.Event, 0, cfg.Events)
	for i := 0; i < cfg.Events; i++ {
		ev := benign(r, i, base.Add(time.Duration(i)*37*time.Millisecond))
		if len(witnesses) > 0 && r.Float64() < cfg.Positives {
			plant(r, ev, witnesses[r.IntN(len(witnesses))])
		}
		out = append(out, ev)
	}
	return out
}

// build is one version of a program's binary: its file version and the
// hashes Sysmon reports for it.
type build struct{ version, hashes string }

// buildsPerProgram is how many versions of each program a fleet runs: a
// binary's hashes and version are those of the file, shared by every
// process started from it, and fleets run a few versions at a time.
const buildsPerProgram = 3

// binaryBuild picks one of the builds of p, each derived from the image
// path and the build number, so that they are the same in every event.
func binaryBuild(p program, r *rand.Rand) build {
	n := r.IntN(buildsPerProgram)
	h := fnv.New64a()
	h.Write([]byte(p.image))
	fr := rand.New(rand.NewPCG(h.Sum64(), uint64(n)))
	return build{
		version: fmt.Sprintf("10.0.%d.%d", 19041+fr.IntN(4000), fr.IntN(3000)),
		hashes:  "SHA1=" + hexString(fr, 40) + ",MD5=" + hexString(fr, 32) + ",SHA256=" + hexString(fr, 64) + ",IMPHASH=" + hexString(fr, 32),
	}
}

func hexString(r *rand.Rand, n int) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

func guid(r *rand.Rand) string {
	h := hexString(r, 32)
	return "{" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:] + "}"
}

func fill(r *rand.Rand, tmpl, user string) string {
	name := user[strings.LastIndexByte(user, '\\')+1:]
	s := strings.ReplaceAll(tmpl, "%u", name)
	for strings.Contains(s, "%d") {
		s = strings.Replace(s, "%d", fmt.Sprint(r.IntN(100000)), 1)
	}
	return s
}

func quote(image string) string {
	if strings.Contains(image, " ") {
		return `"` + image + `"`
	}
	return image
}

// set stores a Sysmon EventData field verbatim and, when ECS has a name
// for it, under that name too, as xsoc's Windows parser does.
func set(ev *event.Event, name, value string) {
	ev.Set("winlog.event_data."+name, value)
	if ecs := ecsName(name); ecs != "" {
		v := value
		if name == "User" {
			v = value[strings.LastIndexByte(value, '\\')+1:]
			ev.Set("user.domain", value[:max(0, strings.LastIndexByte(value, '\\'))])
		}
		ev.Set(ecs, v)
	}
}

func ecsName(field string) string {
	cands := sigma.FieldCandidates(sigma.Logsource{Product: "windows", Category: "process_creation"}, field)
	for _, c := range cands {
		if !strings.HasPrefix(c, "winlog.event_data.") {
			return c
		}
	}
	return ""
}

func benign(r *rand.Rand, i int, t time.Time) *event.Event {
	p := programs[r.IntN(len(programs))]
	parent := p.parents[r.IntN(len(p.parents))]
	user, level := people[r.IntN(len(people))], "Medium"
	if parent == services || parent == svchost {
		user, level = accounts[r.IntN(len(accounts))], "System"
	}
	args := fill(r, p.args[r.IntN(len(p.args))], user)
	cmdline := quote(p.image)
	if args != "" {
		cmdline += " " + args
	}
	ev := &event.Event{ID: fmt.Sprintf("bench-%08d", i), Member: "org-1", Time: t}
	host := fmt.Sprintf("WS-%04d", r.IntN(500))
	ev.Set("event.module", "sysmon")
	ev.Set("event.dataset", "windows.sysmon")
	ev.Set("event.code", "1")
	ev.Set("event.category", "process")
	ev.Set("event.type", "start")
	ev.Set("event.kind", "event")
	ev.Set("winlog.event_id", "1")
	ev.Set("winlog.channel", "Microsoft-Windows-Sysmon/Operational")
	ev.Set("winlog.provider_name", "Microsoft-Windows-Sysmon")
	ev.Set("winlog.computer_name", host+".corp.example.com")
	ev.Set("host.name", host)
	ev.Set("host.os.type", "windows")
	ev.Set("process.name", p.image[strings.LastIndexByte(p.image, '\\')+1:])
	ev.Set("process.parent.name", parent[strings.LastIndexByte(parent, '\\')+1:])
	set(ev, "RuleName", "-")
	set(ev, "UtcTime", t.Format("2006-01-02 15:04:05.000"))
	set(ev, "ProcessGuid", guid(r))
	set(ev, "ProcessId", fmt.Sprint(1000+r.IntN(60000)))
	set(ev, "Image", p.image)
	build := binaryBuild(p, r)
	set(ev, "FileVersion", build.version)
	set(ev, "Description", p.description)
	set(ev, "Product", p.product)
	set(ev, "Company", p.company)
	set(ev, "OriginalFileName", p.original)
	set(ev, "CommandLine", cmdline)
	set(ev, "CurrentDirectory", `C:\Windows\system32\`)
	set(ev, "User", user)
	set(ev, "LogonGuid", guid(r))
	set(ev, "LogonId", fmt.Sprintf("0x%x", r.IntN(1<<24)))
	set(ev, "TerminalSessionId", fmt.Sprint(r.IntN(3)))
	set(ev, "IntegrityLevel", level)
	set(ev, "Hashes", build.hashes)
	set(ev, "ParentProcessGuid", guid(r))
	set(ev, "ParentProcessId", fmt.Sprint(400+r.IntN(20000)))
	set(ev, "ParentImage", parent)
	set(ev, "ParentCommandLine", quote(parent))
	set(ev, "ParentUser", user)
	return ev
}

// plant rewrites ev so that it satisfies the first alternative of every
// search of rule whose name does not look like a filter: string values
// are written with their wildcards and modifiers honoured. Values that
// cannot be planted this way (regexes, numbers, CIDR) are left as they
// are, so a few planted events will not match.
func plant(r *rand.Rand, ev *event.Event, rule *sigma.Rule) {
	d := rule.Detection
	for _, name := range d.Order {
		if strings.HasPrefix(name, "filter") || strings.HasPrefix(name, "_") {
			continue
		}
		s := d.Searches[name]
		alt := s.Alternatives[r.IntN(len(s.Alternatives))]
		for _, fm := range alt {
			if fm.Field == "" {
				if len(fm.Values) > 0 {
					set(ev, "CommandLine", ev.Key(event.ProcessCommandLine)+" "+plainValue(fm.Values[0].Text))
				}
				continue
			}
			v, ok := plantValue(r, fm, ev)
			if ok {
				set(ev, fm.Field, v)
			}
		}
	}
}

func plantValue(r *rand.Rand, fm *sigma.FieldMatch, ev *event.Event) (string, bool) {
	all := false
	mode := "exact"
	for _, m := range fm.Modifiers {
		switch m {
		case "all":
			all = true
		case "contains", "startswith", "endswith":
			mode = m
		case "re", "cidr", "gt", "gte", "lt", "lte", "fieldref", "exists", "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide", "expand", "cased":
			return "", false
		}
	}
	var vals []string
	for _, v := range fm.Values {
		if v.Null {
			return "", false
		}
		vals = append(vals, plainValue(v.Text))
	}
	if len(vals) == 0 {
		return "", false
	}
	if !all {
		vals = []string{vals[r.IntN(len(vals))]}
	}
	joined := strings.Join(vals, " ")
	prev, _ := ev.Get("winlog.event_data." + fm.Field)
	switch mode {
	case "contains":
		return prev + " " + joined + " ", true
	case "startswith":
		return joined + " " + prev, true
	case "endswith":
		return `C:\Users\Public\` + joined, true
	}
	return joined, true
}

// plainValue turns a Sigma string into a concrete value: wildcards become
// short fillers and escapes are removed.
func plainValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			b.WriteByte(c)
		case '*':
			b.WriteString("x")
		case '?':
			b.WriteByte('x')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
