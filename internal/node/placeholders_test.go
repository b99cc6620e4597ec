package node

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
)

// TestSigmaPlaceholdersFromConfig loads SigmaHQ's placeholder rules for
// Security events with values from a placeholders file and the
// sigma_placeholders key, which wins for the names it gives.
func TestSigmaPlaceholdersFromConfig(t *testing.T) {
	wd, _ := os.Getwd()
	rules := filepath.Join(wd, "..", "..", "..", "shared", "sigma", "rules-placeholder", "windows", "builtin", "security")
	if _, err := os.Stat(rules); err != nil {
		t.Skipf("test data %s is absent", rules)
	}
	cfg := nodeConfig(t)
	cfg.RulesDir = rules
	cfg.SigmaPlaceholdersFile = filepath.Join(t.TempDir(), "placeholders.yml")
	values := "Admins_Workstations: [root]\nAdministrators: [adm_root]\ndc_ip_addresses: [10.0.0.10]\ndc_machine_accounts: [DC01$]\nDC-MACHINE-NAME: [DC01$]\nWorkstations: [WS-*]\nDomainControllers: [DC01]\nServerSystems: [SRV-*]\n"
	if err := os.WriteFile(cfg.SigmaPlaceholdersFile, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.SigmaPlaceholders = map[string][]string{"Admins_Workstations": {"adm_*"}}
	n := startNode(t, cfg)
	var id string
	for _, r := range n.Sigma.Rules() {
		if r.Title == "User with Privileges Logon" {
			id = r.ID
		}
	}
	if id == "" {
		t.Fatalf("the placeholder rule did not load; %d rules loaded", len(n.Sigma.Rules()))
	}
	for user, want := range map[string]int{"adm_alice": 0, "root": 1} {
		ev := &event.Event{ID: user, Member: "m1"}
		ev.Set("winlog.channel", "Security")
		ev.Set("event.module", "security")
		ev.Set("winlog.event_id", "4672")
		ev.Set("winlog.event_data.SubjectUserName", user)
		got := 0
		for _, a := range n.Sigma.Detect(ev, nil) {
			if a.RuleID == id {
				got++
			}
		}
		if got != want {
			t.Errorf("%s: %d alerts of the rule, want %d (sigma_placeholders gives adm_*, replacing the file's root)", user, got, want)
		}
	}
}
