// Package demo runs xsoc's demonstration: an embedded node with the
// scenario's member organisations in four EU member states, the starter
// Sigma rules, threat intelligence a national SOC shared about the
// campaign's infrastructure, and the scenario's telemetry replayed through
// the real HTTP ingest at a chosen speed — until a cross-border incident
// stands on the platform.
//
// It also builds the detectors "xsoc eval" scores, so that evaluation and
// demonstration measure the same thing.
package demo

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"time"

	"github.com/xsoc/xsoc/internal/detect"
	"github.com/xsoc/xsoc/internal/detect/ioc"
	"github.com/xsoc/xsoc/internal/detect/sigma"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/iocfeed"
	"github.com/xsoc/xsoc/internal/scenario"
	"github.com/xsoc/xsoc/internal/starter"
	"github.com/xsoc/xsoc/internal/tlp"
)

// IntelOwner is the member that shares the campaign intelligence: the
// national SOC, as CERTs do after an earlier incident.
const IntelOwner = "fr-soc"

// sharedTypes are the observables the national SOC's report names: the
// infrastructure a campaign reuses across victims. File hashes and the
// phishing sender stay out, so that the Sigma rules, not intel, catch the
// endpoint steps.
var sharedTypes = map[string]bool{"domain": true, "ip-dst": true}

// SharedIntel returns the STIX indicators the national SOC shares about
// the campaigns, at TLP:GREEN (the platform's community), valid from
// validFrom for thirty days.
func SharedIntel(campaigns []*scenario.Campaign, validFrom time.Time) ([]stix.Object, error) {
	var out []stix.Object
	confidence := 80
	for _, c := range campaigns {
		for _, ind := range c.Indicators() {
			if !sharedTypes[ind.Type] {
				continue
			}
			p := ind.STIXPattern()
			if p == "" {
				continue
			}
			obj, err := stix.NewIndicator(stix.IndicatorSpec{
				ID:   stix.NameID("indicator", c.ID+"/"+ind.Type+"/"+ind.Value),
				Name: fmt.Sprintf("%s: %s", c.Name, ind.Comment), Pattern: p,
				ValidFrom: validFrom, ValidUntil: validFrom.Add(30 * 24 * time.Hour),
				IndicatorTypes: []string{"malicious-activity"}, Confidence: &confidence, TLP: tlp.Green,
				Created: validFrom, Modified: validFrom,
			})
			if err != nil {
				return nil, fmt.Errorf("campaign %s indicator %s: %w", c.ID, ind.Value, err)
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

// RawObjects marshals objects for the intel repository.
func RawObjects(objs []stix.Object) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(objs))
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// StarterRules parses the embedded starter Sigma pack.
func StarterRules() ([]*sigma.Rule, error) {
	var rules []*sigma.Rule
	err := fs.WalkDir(starter.SigmaRules(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(starter.SigmaRules(), p)
		if err != nil {
			return err
		}
		rs, err := sigma.ParseRule(data, p)
		if err != nil {
			return err
		}
		rules = append(rules, rs...)
		return nil
	})
	return rules, err
}

// Detectors builds the detectors "xsoc eval" scores: the Sigma engine with
// the starter rules plus extra, and an IOC index holding the shared intel
// (owned by IntelOwner, TLP:GREEN, so every member may use it).
func Detectors(cfg scenario.Config, extra []*sigma.Rule) ([]detect.Detector, error) {
	engine, err := sigmaEngine(extra)
	if err != nil {
		return nil, err
	}
	index, err := intelIndex(cfg, true)
	if err != nil {
		return nil, err
	}
	return []detect.Detector{engine, index}, nil
}

// NodeDetectors builds the detectors of one member's own node, as in the
// federated demonstration: the Sigma engine with the starter rules plus
// extra, and the node's IOC index, which holds the national SOC's shared
// intel only on IntelOwner's node.
func NodeDetectors(cfg scenario.Config, member string, extra []*sigma.Rule) ([]detect.Detector, *ioc.Index, error) {
	engine, err := sigmaEngine(extra)
	if err != nil {
		return nil, nil, err
	}
	index, err := intelIndex(cfg, member == IntelOwner)
	if err != nil {
		return nil, nil, err
	}
	return []detect.Detector{engine, index}, index, nil
}

// sigmaEngine loads the starter rules plus extra.
func sigmaEngine(extra []*sigma.Rule) (*sigma.Engine, error) {
	rules, err := StarterRules()
	if err != nil {
		return nil, err
	}
	engine := sigma.NewEngine(sigma.Options{})
	for _, e := range engine.Load(append(rules, extra...)) {
		if !e.Unsupported {
			return nil, e
		}
	}
	return engine, nil
}

// intelIndex returns an IOC index, holding the shared intel if withIntel.
func intelIndex(cfg scenario.Config, withIntel bool) (*ioc.Index, error) {
	index := ioc.New(ioc.Options{})
	if !withIntel {
		return index, nil
	}
	objs, err := campaignIntel(cfg)
	if err != nil {
		return nil, err
	}
	batch := index.NewBatch()
	for _, obj := range objs {
		ind, obs, _, err := iocfeed.ReadObject(obj) // SharedIntel's objects are valid
		if err != nil {
			return nil, err
		}
		for _, ob := range obs {
			k, ok := iocfeed.KindOf(ob.Type)
			if !ok {
				continue
			}
			if err := batch.Add(ioc.Indicator{ID: obj.ID(), Kind: k, Value: ob.Value, Source: "demo", Owner: IntelOwner,
				Confidence: 80, TLP: tlp.Green, ValidFrom: ind.ValidFrom.Time, ValidUntil: ind.ValidUntil.Time}); err != nil {
				return nil, err
			}
		}
	}
	return index, batch.Commit()
}
