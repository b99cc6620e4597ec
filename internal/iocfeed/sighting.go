package iocfeed

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Sightings turns indicator matches into STIX 2.1 sightings in the intel
// repository: "member X saw indicator Y, N times, between these times".
// Shared over TAXII, a sighting tells the indicator's producer and the
// community that the infrastructure is active, and where. A sighting is
// marked TLP:AMBER — it reveals that the member was targeted — and is
// stored in the member's name. The identity it names is xsoc's, made once
// per member (intel.Repo.MemberIdentity): it carries no activity.
type Sightings struct {
	Repo       *intel.Repo
	Collection string
	Log        *slog.Logger
}

// Record stores the sighting of one IOC alert (a new version each time
// the alert's count grows). Alerts of other detectors are ignored.
func (s Sightings) Record(ctx context.Context, a alert.Alert) error {
	return s.RecordAll(ctx, []alert.Alert{a})
}

// RecordAll stores the sightings of a batch of alerts, one repository
// write per member: recording alert by alert would cost a store
// transaction each on the path that raises them.
func (s Sightings) RecordAll(ctx context.Context, alerts []alert.Alert) error {
	var members []string
	raws := map[string][]json.RawMessage{}
	idents := map[string]string{} // MemberIdentity writes: once per member
	for i := range alerts {
		a := &alerts[i]
		if a.Detector != "ioc" || !strings.HasPrefix(a.RuleID, "indicator--") {
			continue
		}
		identID, ok := idents[a.Member]
		if !ok {
			var err error
			if identID, err = s.Repo.MemberIdentity(ctx, s.Collection, a.Member); err != nil {
				return err
			}
			idents[a.Member] = identID
			members = append(members, a.Member)
		}
		raw, err := sighting(a, identID)
		if err != nil {
			return err
		}
		raws[a.Member] = append(raws[a.Member], raw)
	}
	for _, m := range members {
		st, err := s.Repo.AddObjects(ctx, intel.Viewer{Member: m}, s.Collection, raws[m])
		if err != nil {
			return fmt.Errorf("sightings of %s: %w", m, err)
		}
		for _, f := range st.Failures {
			s.Log.Warn("sighting not stored", "sighting", f.ID, "reason", f.Message)
		}
	}
	return nil
}

// sighting is the STIX sighting of IOC alert a by the identity identID.
func sighting(a *alert.Alert, identID string) (json.RawMessage, error) {
	last := a.LastSeen
	if last.IsZero() {
		last = a.EventTime
	}
	sg, err := stix.NewSighting(a.RuleID, identID, max(a.Count, 1), a.EventTime, last, []string{identID})
	if err != nil {
		return nil, fmt.Errorf("sighting of %s: %w", a.RuleID, err)
	}
	// One sighting per alert: the id and created time stay, and each
	// growth of the count is a new version.
	sg.Set("id", stix.NameID("sighting", "xsoc-alert/"+a.ID))
	created := a.Detected
	if created.IsZero() {
		created = time.Now()
	}
	sg.Set("created", stix.FormatTime(created))
	sg.Set("modified", stix.FormatTime(time.Now()))
	sg.SetTLP(tlp.Amber)
	return json.Marshal(sg)
}
