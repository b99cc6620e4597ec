package scenario

import "strings"

// executable is a Windows executable as Sysmon describes it in a process
// creation event.
type executable struct {
	// path is the full image path; "%USER%" stands for the profile folder
	// name of the user that runs it.
	path        string
	original    string // OriginalFileName from the version resource
	description string
	product     string
	company     string
	version     string
}

// image returns the image path for user.
func (b *executable) image(user string) string {
	return strings.Replace(b.path, "%USER%", user, 1)
}

const (
	msCorp   = "Microsoft Corporation"
	msWin    = "Microsoft® Windows® Operating System"
	msOffice = "Microsoft Office"
	winVer   = "10.0.19041.1 (WinBuild.160101.0800)"
)

// binaries is the immutable catalogue of executables the scenario runs,
// keyed by a short name.
var binaries = map[string]*executable{
	"explorer":     {`C:\Windows\explorer.exe`, "EXPLORER.EXE", "Windows Explorer", msWin, msCorp, "10.0.19041.3636 (WinBuild.160101.0800)"},
	"userinit":     {`C:\Windows\System32\userinit.exe`, "USERINIT.EXE", "Userinit Logon Application", msWin, msCorp, winVer},
	"services":     {`C:\Windows\System32\services.exe`, "services.exe", "Services and Controller app", msWin, msCorp, winVer},
	"svchost":      {`C:\Windows\System32\svchost.exe`, "svchost.exe", "Host Process for Windows Services", msWin, msCorp, winVer},
	"taskhostw":    {`C:\Windows\System32\taskhostw.exe`, "taskhostw.exe", "Host Process for Windows Tasks", msWin, msCorp, winVer},
	"lsass":        {`C:\Windows\System32\lsass.exe`, "lsass.exe", "Local Security Authority Process", msWin, msCorp, winVer},
	"wmiprvse":     {`C:\Windows\System32\wbem\WmiPrvSE.exe`, "Wmiprvse.exe", "WMI Provider Host", msWin, msCorp, winVer},
	"conhost":      {`C:\Windows\System32\conhost.exe`, "CONHOST.EXE", "Console Window Host", msWin, msCorp, winVer},
	"cmd":          {`C:\Windows\System32\cmd.exe`, "Cmd.Exe", "Windows Command Processor", msWin, msCorp, winVer},
	"powershell":   {`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "PowerShell.EXE", "Windows PowerShell", msWin, msCorp, winVer},
	"rundll32":     {`C:\Windows\System32\rundll32.exe`, "RUNDLL32.EXE", "Windows host process (Rundll32)", msWin, msCorp, winVer},
	"schtasks":     {`C:\Windows\System32\schtasks.exe`, "schtasks.exe", "Task Scheduler Configuration Tool", msWin, msCorp, winVer},
	"whoami":       {`C:\Windows\System32\whoami.exe`, "whoami.exe", "whoami - displays logged on user information", msWin, msCorp, winVer},
	"net":          {`C:\Windows\System32\net.exe`, "net.exe", "Net Command", msWin, msCorp, winVer},
	"nltest":       {`C:\Windows\System32\nltest.exe`, "nltestrk.exe", "Microsoft® Logon Server Test Utility", msWin, msCorp, winVer},
	"ipconfig":     {`C:\Windows\System32\ipconfig.exe`, "ipconfig.exe", "IP Configuration Utility", msWin, msCorp, winVer},
	"gpupdate":     {`C:\Windows\System32\gpupdate.exe`, "GPUpdate.exe", "Microsoft® Windows Group Policy Update Utility", msWin, msCorp, winVer},
	"wmic":         {`C:\Windows\System32\wbem\WMIC.exe`, "wmic.exe", "WMI Commandline Utility", msWin, msCorp, winVer},
	"curl":         {`C:\Windows\System32\curl.exe`, "curl.exe", "The curl executable", "The curl executable", "curl, https://curl.se/", "8.4.0"},
	"notepad":      {`C:\Windows\System32\notepad.exe`, "NOTEPAD.EXE", "Notepad", msWin, msCorp, winVer},
	"mmc":          {`C:\Windows\System32\mmc.exe`, "MMC.EXE", "Microsoft Management Console", msWin, msCorp, winVer},
	"wuauclt":      {`C:\Windows\System32\wuauclt.exe`, "wuauclt.exe", "Windows Update", msWin, msCorp, winVer},
	"musnotify":    {`C:\Windows\System32\MusNotification.exe`, "MusNotification.exe", "Windows Update", msWin, msCorp, winVer},
	"searchproto":  {`C:\Windows\System32\SearchProtocolHost.exe`, "SearchProtocolHost.exe", "Microsoft Windows Search Protocol Host", msWin, msCorp, winVer},
	"backgroundth": {`C:\Windows\System32\backgroundTaskHost.exe`, "backgroundTaskHost.exe", "Background Task Host", msWin, msCorp, winVer},
	"mpcmdrun":     {`C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24010.12-0\MpCmdRun.exe`, "MpCmdRun.exe", "Microsoft Malware Protection Command Line Utility", "Microsoft® Windows® Operating System", msCorp, "4.18.24010.12 (WinBuild.160101.0800)"},
	"msedge":       {`C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`, "msedge.exe", "Microsoft Edge", "Microsoft Edge", msCorp, "122.0.2365.80"},
	"chrome":       {`C:\Program Files\Google\Chrome\Application\chrome.exe`, "chrome.exe", "Google Chrome", "Google Chrome", "Google LLC", "122.0.6261.112"},
	"outlook":      {`C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`, "Outlook.exe", "Microsoft Outlook", msOffice, msCorp, "16.0.17328.20184"},
	"winword":      {`C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`, "WinWord.exe", "Microsoft Word", msOffice, msCorp, "16.0.17328.20184"},
	"excel":        {`C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE`, "Excel.exe", "Microsoft Excel", msOffice, msCorp, "16.0.17328.20184"},
	"powerpnt":     {`C:\Program Files\Microsoft Office\root\Office16\POWERPNT.EXE`, "POWERPNT.EXE", "Microsoft PowerPoint", msOffice, msCorp, "16.0.17328.20184"},
	"teams":        {`C:\Program Files\WindowsApps\MSTeams_24033.811.2738.2546_x64__8wekyb3d8bbwe\ms-teams.exe`, "ms-teams.exe", "Microsoft Teams", "Microsoft Teams", msCorp, "24033.811.2738.2546"},
	"onedrive":     {`C:\Users\%USER%\AppData\Local\Microsoft\OneDrive\OneDrive.exe`, "OneDrive.exe", "Microsoft OneDrive", "Microsoft OneDrive", msCorp, "24.030.0211.0002"},
	"acrord":       {`C:\Program Files\Adobe\Acrobat DC\Acrobat\Acrobat.exe`, "Acrobat.exe", "Adobe Acrobat", "Adobe Acrobat", "Adobe Inc.", "24.1.20629.0"},
	"officeclick":  {`C:\Program Files\Common Files\microsoft shared\ClickToRun\OfficeClickToRun.exe`, "OfficeClickToRun.exe", "Microsoft Office Click-to-Run (SxS)", msOffice, msCorp, "16.0.17328.20184"},
	"ccmexec":      {`C:\Windows\CCM\CcmExec.exe`, "CcmExec.exe", "SMS Agent Host", "System Center Configuration Manager", msCorp, "5.0.9122.1000"},
	"sqlservr":     {`C:\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn\sqlservr.exe`, "sqlservr.exe", "SQL Server Windows NT - 64 Bit", "Microsoft SQL Server", msCorp, "2019.0150.4345.05"},
	"w3wp":         {`C:\Windows\System32\inetsrv\w3wp.exe`, "w3wp.exe", "IIS Worker Process", "Internet Information Services", msCorp, winVer},
	"7z":           {`C:\Program Files\7-Zip\7z.exe`, "7z.exe", "7-Zip Console", "7-Zip", "Igor Pavlov", "23.01"},
	"robocopy":     {`C:\Windows\System32\Robocopy.exe`, "robocopy.exe", "Microsoft Robocopy", msWin, msCorp, winVer},
	"psexec":       {`C:\ProgramData\Microsoft\DRM\PsExec64.exe`, "psexec.exe", "Execute processes remotely", "Sysinternals PsExec", "Sysinternals - www.sysinternals.com", "2.43"},
	"psexesvc":     {`C:\Windows\PSEXESVC.exe`, "psexesvc.exe", "PsExec Service", "Sysinternals PsExec", "Sysinternals - www.sysinternals.com", "2.43"},
}

// bin returns the catalogue entry for a short name; the catalogue is fixed,
// so a missing name is a programming error caught by the tests.
func bin(name string) *executable {
	b, ok := binaries[name]
	if !ok {
		panic("scenario: unknown binary " + name)
	}
	return b
}
