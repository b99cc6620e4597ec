package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedSigma returns the SigmaHQ corpus in the shared test data beside
// the repository root, or skips.
func sharedSigma(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(wd, "..", "..", "..", "shared", "sigma")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("test data %s is absent", dir)
	}
	return dir
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// logon4672 is a Security 4672 (special privileges at logon) for user.
func logon4672(user string) string {
	return `{"winlog":{"channel":"Security","event_id":"4672","provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"WS-0142","event_data":{"SubjectUserSid":"S-1-5-21-1004336348-1177238915-682003330-1104","SubjectUserName":"` + user + `","SubjectDomainName":"CORP","SubjectLogonId":"0x3e7a1c","PrivilegeList":"SeDebugPrivilege"}},"@timestamp":"2024-03-05T09:00:00Z"}` + "\n"
}

// TestRulesTest runs "xsoc rules test": a rule that does not load says
// why, with its file and line, and the command fails; placeholders come
// from --placeholder or a placeholders file.
func TestRulesTest(t *testing.T) {
	events := writeFile(t, "events.ndjson", logon4672("adm_alice")+logon4672("bob"))
	broken := writeFile(t, "broken.yml", "title: Broken\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    EventID: 4672\n    SubjectUserName|bogus: x\n  condition: sel\n")
	missing := writeFile(t, "missing.yml", "title: Missing selection\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    EventID: 4672\n  condition: sel and not filter\n")
	adminLogon := filepath.Join(sharedSigma(t), "rules-placeholder", "windows", "builtin", "security", "win_security_admin_logon.yml")
	pipeline := writeFile(t, "placeholders.yml", "name: site values\npriority: 10\nvars:\n  Admins_Workstations: ['adm_*']\ntransformations: []\n")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown modifier", []string{"rules", "test", broken, events}, 1,
			[]string{broken + `:6: rule "Broken": search "sel": field "SubjectUserName": unknown modifier "bogus"`, "no rule to test"}},
		{"condition names a missing search", []string{"rules", "test", missing, events}, 1,
			[]string{missing + `:6: rule "Missing selection": condition "sel and not filter": names search identifier "filter"`}},
		{"placeholder without a value", []string{"rules", "test", adminLogon, events}, 1,
			[]string{"placeholder %Admins_Workstations% has no value"}},
		{"placeholder from the command line", []string{"rules", "test", adminLogon, events, "--placeholder", "Admins_Workstations=adm_*"}, 0,
			[]string{`line 2: MATCH "User with Privileges Logon"`, "2 events, 1 matches"}},
		{"placeholders from a pySigma pipeline file", []string{"rules", "test", "--placeholders", pipeline, adminLogon, events}, 0,
			[]string{`line 2: MATCH`, "2 events, 1 matches"}},
		{"a bad placeholder flag", []string{"rules", "test", adminLogon, events, "--placeholder", "Admins_Workstations"}, 2,
			[]string{"want name=value"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			code := mainExit(c.args, &out, &out)
			if code != c.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, c.code, out.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if c.code == 0 && strings.Contains(out.String(), "line 1: MATCH") {
				t.Errorf("the administrator's logon matched:\n%s", out.String())
			}
		})
	}
}

// TestRulesValidatePlaceholders loads SigmaHQ's placeholder rules with and
// without their values.
func TestRulesValidatePlaceholders(t *testing.T) {
	dir := filepath.Join(sharedSigma(t), "rules-placeholder")
	var values strings.Builder
	for _, name := range strings.Fields(`Administrators Admins_Workstations ApprovedUserUpn Approved_Inviters
		DomainControllers HomeTenantID Important_AppIds KNOWN_LOCATION Known_Location Legitimate_Countries
		Legitimate_IP_Ranges ServerSystems UnApprovedDevice UnApprovedIp UnLegitCountries Workstations
		dc_ip_addresses dc_machine_accounts domain_controller_hostnames internal_domains legit_ips
		legtimate_identifiers userdomain DC-MACHINE-NAME`) {
		values.WriteString(name + ": [site-" + strings.ToLower(name) + "]\n")
	}
	file := writeFile(t, "placeholders.yml", values.String())
	var out bytes.Buffer
	if code := mainExit([]string{"rules", "validate", "-q", dir}, &out, &out); code != 1 || !strings.Contains(out.String(), "0 rules loaded, 23 broken") {
		t.Errorf("without values: exit %d, %s", code, out.String())
	}
	out.Reset()
	if code := mainExit([]string{"rules", "validate", "--placeholders", file, dir}, &out, &out); code != 0 || !strings.Contains(out.String(), "23 rules loaded, 0 broken, 0 unsupported") {
		t.Errorf("with values: exit %d, %s", code, out.String())
	}
}
