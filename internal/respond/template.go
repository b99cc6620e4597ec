package respond

import (
	"encoding/json"
	"strings"
	"text/template"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Templates run over the alert.Alert itself: {{.RuleTitle}}, {{.Severity}},
// {{range .Observables}}{{.Value}}{{end}}. These functions are available.
var templateFuncs = template.FuncMap{
	// json encodes any value as JSON, so a body can embed strings safely:
	// {"title": {{json .RuleTitle}}}.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
}

const (
	defaultSubject   = "[xsoc] {{.Severity}}: {{.RuleTitle}}"
	defaultEmailBody = `xsoc raised an alert.

Alert:     {{.ID}}
Member:    {{.Member}}
Rule:      {{.RuleTitle}} ({{.RuleID}})
Detector:  {{.Detector}}
Severity:  {{.Severity}}
TLP:       {{.TLP}}
Event:     {{.EventTime}}
{{if .Techniques}}Techniques: {{join .Techniques ", "}}
{{end}}{{range .Observables}}Observable: {{.Type}} {{.Value}} {{.Role}}
{{end}}`
)

func newTemplate(name, src string) (*template.Template, error) {
	return template.New(name).Funcs(templateFuncs).Option("missingkey=error").Parse(src)
}

// maxRendered bounds a rendered body: a template looping over evidence must
// not write megabytes into the outbox.
const maxRendered = 1 << 20

func render(t *template.Template, a alert.Alert) (string, error) {
	var b limitedBuilder
	if err := t.Execute(&b, a); err != nil {
		return "", err
	}
	return b.String(), nil
}

// limitedBuilder is a strings.Builder that refuses to grow past
// maxRendered.
type limitedBuilder struct{ strings.Builder }

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxRendered {
		return 0, errRenderTooLarge
	}
	return b.Builder.Write(p)
}

type renderError string

func (e renderError) Error() string { return string(e) }

const errRenderTooLarge = renderError("rendered text is larger than 1 MiB")

// sampleAlert is what templates are tried on at load time: every field
// set, so a template that works here works on real alerts.
func sampleAlert() alert.Alert {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return alert.Alert{
		ID: "sample", Member: "member", EventTime: t, Detected: t, LastSeen: t,
		Detector: "sigma", RuleID: "rule", RuleTitle: "Sample rule", Severity: alert.High,
		Techniques:  []string{"T1059.001"},
		Observables: []alert.Observable{{Type: "ipv4-addr", Value: "192.0.2.1", Role: "destination"}},
		TLP:         tlp.Amber, Key: "host", Count: 1, Evidence: []string{"{}"}, EventIDs: []string{"e"},
		Status: alert.StatusNew,
	}
}
