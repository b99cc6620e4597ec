package web

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// ruleVerdict is one event against one rule, with the reasons.
type ruleVerdict struct {
	Line    int      `json:"line"`
	Rule    string   `json:"rule"`
	Matched bool     `json:"matched"`
	Why     []string `json:"why"`
}

// maxTestEvents bounds one test from the browser.
const maxTestEvents = 1000

// testRules serves POST /web/rules/test {"rule": YAML, "events": NDJSON or
// lines, "format": "auto"}: each event against each detection rule of the
// YAML, and why it matched or not, as `xsoc rules test --all` prints it.
// It stores nothing.
func (c *Console) testRules(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Rule   string `json:"rule"`
		Events string `json:"events"`
		Format string `json:"format"`
	}
	if !api.DecodeJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Rule) == "" {
		api.Error(w, http.StatusBadRequest, "rule: paste a Sigma rule (YAML)")
		return
	}
	rules, err := sigma.ParseRule([]byte(req.Rule), "pasted rule")
	if len(rules) == 0 {
		api.Error(w, http.StatusBadRequest, fmt.Sprintf("rule does not load: %v", err))
		return
	}
	if req.Format == "" {
		req.Format = "auto"
	}
	fm, ferr := format.ParseFormat(req.Format)
	if ferr != nil {
		api.Error(w, http.StatusBadRequest, ferr.Error())
		return
	}
	out := map[string]any{}
	if err != nil {
		out["rule_errors"] = err.Error()
	}
	verdicts, notEvents := explainAll(rules, fm, req.Events)
	out["results"], out["not_events"] = verdicts, notEvents
	api.JSON(w, http.StatusOK, out)
}

func explainAll(rules []*sigma.Rule, fm format.Format, events string) ([]ruleVerdict, []string) {
	verdicts, bad := []ruleVerdict{}, []string{}
	sc := bufio.NewScanner(bytes.NewReader([]byte(events)))
	sc.Buffer(make([]byte, 64<<10), format.MaxRecord+1)
	var p format.Parser
	for line := 1; sc.Scan() && line <= maxTestEvents; line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var ev event.Event
		if err := p.Parse(fm, sc.Bytes(), &ev); err != nil {
			bad = append(bad, fmt.Sprintf("line %d: not an event: %v", line, err))
			continue
		}
		for _, rule := range rules {
			ok, why := sigma.Explain(rule, &ev)
			verdicts = append(verdicts, ruleVerdict{Line: line, Rule: rule.Title, Matched: ok, Why: why})
		}
	}
	return verdicts, bad
}
