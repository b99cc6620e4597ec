package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"
)

// hostKind is the role of a host in a member's network.
type hostKind int

const (
	workstation hostKind = iota
	domainController
	fileServer
	appServer
	proxyServer // Linux Squid proxy, logs over syslog
	webServer   // Linux nginx in the DMZ, logs over syslog
)

// account is a domain user.
type account struct {
	name        string // sAMAccountName
	first, last string
	sid         string
	mail        string
}

// host is one machine of a member.
type host struct {
	name string // NetBIOS name, upper case
	fqdn string
	ip   netip.Addr
	kind hostKind
	// user is the workstation's primary user; nil on servers.
	user *account
	// guidPart is the first group every Sysmon GUID on this host shares.
	guidPart string
	// agentID identifies the host's log shipper.
	agentID string
	// recordBase offsets the host's event record numbers.
	recordBase uint64
	// long-lived processes that others descend from.
	explorer, services, svcNet, outlook, wmi, browser, teams *proc
	// lsassPID is the process ID of lsass.exe.
	lsassPID int
}

// proc is a running process.
type proc struct {
	guid      string
	pid       int
	bin       *executable
	hashes    digest
	image     string
	cmd       string
	cwd       string
	user      string // DOMAIN\name
	integrity string
	logonID   string
	parent    *proc
}

// site is the simulated network of one member: its hosts and people.
type site struct {
	m      *Member
	loc    locale
	sid    string // domain SID prefix
	ws     []*host
	srv    []*host // Windows servers, dc and fs first
	dc, fs *host
	proxy  *host
	web    *host
	users  []*account
	admins []*account
	// byIP finds a host by address, for sensors that see both ends.
	byIP map[netip.Addr]*host
}

// buildSite lays out a member's hosts and users from its own random stream.
func buildSite(seed uint64, m *Member) *site {
	r := newRand(seed, strHash("site"), strHash(m.ID))
	s := &site{
		m:    m,
		loc:  locales[m.Locale],
		sid:  fmt.Sprintf("S-1-5-21-%d-%d-%d", 1000000000+r.IntN(1<<31-1000000000), 1000000000+r.IntN(1<<31-1000000000), 1000000000+r.IntN(1<<31-1000000000)),
		byIP: make(map[netip.Addr]*host),
	}
	seen := make(map[string]bool)
	for len(s.users) < m.Workstations {
		f, l := pick(r, s.loc.first), pick(r, s.loc.last)
		name := s.loc.userName(f, l)
		if seen[name] {
			name = fmt.Sprintf("%s%d", name, len(s.users))
		}
		seen[name] = true
		s.users = append(s.users, &account{
			name: name, first: f, last: l,
			sid:  fmt.Sprintf("%s-%d", s.sid, 1100+len(s.users)),
			mail: asciiFold(lower(squash(f)+"."+squash(l))) + "@" + m.MailDomain,
		})
	}
	// IT staff have a separate administrative account, the one attackers
	// hunt for on the machines they log on to.
	for i := 0; i < 3 && i < len(s.users); i++ {
		u := s.users[i]
		s.admins = append(s.admins, &account{name: "adm-" + u.name, first: u.first, last: u.last,
			sid: fmt.Sprintf("%s-%d", s.sid, 5100+i), mail: u.mail})
	}
	for i := 0; i < m.Workstations; i++ {
		n := 100 + r.IntN(900)*10 + i // stable, sparse asset numbers
		h := s.newHost(r, fmt.Sprintf("%s-WS%04d", m.HostPrefix, n%10000), workstation, uint64(10*256+i))
		h.user = s.users[i]
		s.ws = append(s.ws, h)
	}
	s.dc = s.newHost(r, m.HostPrefix+"-DC01", domainController, 256+10)
	s.fs = s.newHost(r, m.HostPrefix+"-FS01", fileServer, 256+20)
	s.srv = append(s.srv, s.dc, s.fs)
	roles := []string{"APP", "SQL", "WSUS", "SCCM", "CA", "EXCH", "RDS", "BKP"}
	for i := 0; i < m.Servers; i++ {
		name := fmt.Sprintf("%s-%s%02d", m.HostPrefix, roles[i%len(roles)], 1+i/len(roles))
		s.srv = append(s.srv, s.newHost(r, name, appServer, uint64(256+30+i)))
	}
	for _, h := range s.windowsHosts() {
		s.boot(r, h)
	}
	s.proxy = s.newHost(r, lower(m.HostPrefix)+"-proxy01", proxyServer, 256+250)
	s.web = s.newHost(r, lower(m.HostPrefix)+"-web01", webServer, 200*256+10)
	return s
}

// newHost creates a host at the given offset inside the member's network.
func (s *site) newHost(r *rand.Rand, name string, kind hostKind, offset uint64) *host {
	h := &host{
		name:       name,
		fqdn:       strings.ToLower(name) + "." + s.m.Domain,
		ip:         addrIn(s.m.Network, offset),
		kind:       kind,
		guidPart:   randHex(r, 8),
		agentID:    strings.ToLower(guid(r)[1:37]),
		recordBase: uint64(100000 + r.IntN(5000000)),
		lsassPID:   600 + 4*r.IntN(100),
	}
	if kind == webServer || kind == proxyServer {
		h.fqdn = name + "." + s.m.Domain
	}
	s.byIP[h.ip] = h
	return h
}

// account returns DOMAIN\name for a domain account.
func (s *site) qualified(a *account) string {
	return s.m.NetBIOS + `\` + a.name
}

// location returns the member's time zone.
func (s *site) location() *time.Location {
	if s.m.Location == nil {
		return time.UTC
	}
	return s.m.Location
}

// windowsHosts returns workstations and Windows servers.
func (s *site) windowsHosts() []*host {
	out := make([]*host, 0, len(s.ws)+len(s.srv))
	out = append(out, s.ws...)
	return append(out, s.srv...)
}

// boot creates the long-lived processes of a Windows host that the
// day's activity descends from.
func (s *site) boot(r *rand.Rand, h *host) {
	const system = `NT AUTHORITY\SYSTEM`
	h.services = makeProc(r, h, nil, bin("services"), `C:\Windows\system32\services.exe`, system)
	h.services.pid = 600 + 4*r.IntN(60)
	h.svcNet = makeProc(r, h, h.services, bin("svchost"), `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`, system)
	h.wmi = makeProc(r, h, h.svcNet, bin("wmiprvse"), `C:\Windows\system32\wbem\wmiprvse.exe -Embedding`, system)
	if h.user == nil {
		return
	}
	user := s.qualified(h.user)
	h.explorer = makeProc(r, h, nil, bin("explorer"), `C:\Windows\Explorer.EXE`, user)
	h.outlook = makeProc(r, h, h.explorer, bin("outlook"), `"C:\Program Files\Microsoft Office\Root\Office16\OUTLOOK.EXE" `, user)
	if r.IntN(3) == 0 {
		h.browser = makeProc(r, h, h.explorer, bin("chrome"), `"C:\Program Files\Google\Chrome\Application\chrome.exe" `, user)
	} else {
		h.browser = makeProc(r, h, h.explorer, bin("msedge"), `"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --profile-directory=Default`, user)
	}
	h.teams = makeProc(r, h, h.explorer, bin("teams"), `"ms-teams.exe" --system-initiated`, user)
}
