package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/intel/misp"
	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
)

// intelViewer is what a principal reads of the intel repository: the same
// rule the TAXII server applies to the member's key.
func intelViewer(p member.Principal) intel.Viewer {
	return intel.Viewer{Member: p.Member.ID, ClientOf: p.Member.ClientOf, Operator: p.Operator()}
}

// indicatorRow is one indicator as the Intel page lists it.
type indicatorRow struct {
	ID         string    `json:"id"`
	Name       string    `json:"name,omitempty"`
	Pattern    string    `json:"pattern"`
	Types      []string  `json:"indicator_types,omitempty"`
	ValidFrom  string    `json:"valid_from,omitempty"`
	ValidUntil string    `json:"valid_until,omitempty"`
	TLP        string    `json:"tlp"`
	Owner      string    `json:"owner"`
	Collection string    `json:"collection"`
	Added      time.Time `json:"added"`
	// Sightings counts the indicator's sightings the viewer may read, by
	// the country of the member that saw it.
	Sightings map[string]int `json:"sightings,omitempty"`
}

// maxIndicatorScan bounds how many indicators one search reads per
// collection; the page says when it stopped there.
const maxIndicatorScan = 5000

// intelList serves GET /web/intel?q=: the viewer's TAXII collections and
// the indicators it may read whose name or pattern holds q.
func (c *Console) intelList(w http.ResponseWriter, r *http.Request) {
	p, _ := api.PrincipalFrom(r.Context())
	v := intelViewer(p)
	colls, err := c.cfg.Intel.Collections(r.Context(), v)
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	rows := []indicatorRow{}
	truncated := false
	for _, a := range colls {
		if !a.CanRead {
			continue
		}
		found, more, err := c.indicators(r, v, a.Collection, q)
		if err != nil {
			api.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		rows = append(rows, found...)
		truncated = truncated || more
	}
	if len(rows) > 1000 {
		rows, truncated = rows[:1000], true
	}
	byCountry, err := c.sightings(r, v, colls, rows)
	if err != nil {
		api.Error(w, http.StatusInternalServerError, err.Error())
		return
	}
	api.JSON(w, http.StatusOK, map[string]any{"collections": colls, "indicators": rows, "truncated": truncated,
		"sightings_by_country": byCountry})
}

// sightings fills in each row's sightings per country from the STIX
// sightings the viewer may read (the node records one for every IOC
// alert, in the member's name, at TLP:AMBER; partners' arrive over TAXII)
// and returns the totals per country over the rows. A sighting counts as
// its count property says (1 when absent); its country is its owner's.
func (c *Console) sightings(r *http.Request, v intel.Viewer, colls []intel.Access, rows []indicatorRow) (map[string]int, error) {
	total := map[string]int{}
	if len(rows) == 0 {
		return total, nil
	}
	index := make(map[string][]int, len(rows))
	for i, row := range rows {
		index[row.ID] = append(index[row.ID], i)
	}
	countries := map[string]string{}
	if err := c.countries(r, countries); err != nil {
		return nil, err
	}
	for _, a := range colls {
		if !a.CanRead {
			continue
		}
		f := intel.Filter{Types: []string{"sighting"}}
		for scanned := 0; scanned < maxIndicatorScan; {
			page, err := c.cfg.Intel.Objects(r.Context(), v, a.Collection.ID, f)
			if err != nil {
				return nil, err
			}
			for _, o := range page.Objects {
				var sg struct {
					Of    string `json:"sighting_of_ref"`
					Count *int   `json:"count"`
				}
				if json.Unmarshal(o.Raw, &sg) != nil || len(index[sg.Of]) == 0 {
					continue
				}
				n := 1
				if sg.Count != nil {
					n = max(*sg.Count, 0)
				}
				country := countries[o.Owner]
				if country == "" {
					country = "?"
				}
				for _, i := range index[sg.Of] {
					if rows[i].Sightings == nil {
						rows[i].Sightings = map[string]int{}
					}
					rows[i].Sightings[country] += n
				}
				total[country] += n
			}
			scanned += len(page.Objects)
			if !page.More {
				break
			}
			f.Next = page.Next
		}
	}
	return total, nil
}

func (c *Console) indicators(r *http.Request, v intel.Viewer, coll intel.Collection, q string) ([]indicatorRow, bool, error) {
	var out []indicatorRow
	f := intel.Filter{Types: []string{"indicator"}}
	for scanned := 0; scanned < maxIndicatorScan; {
		page, err := c.cfg.Intel.Objects(r.Context(), v, coll.ID, f)
		if err != nil {
			return nil, false, err
		}
		for _, o := range page.Objects {
			var ind struct {
				Name       string   `json:"name"`
				Pattern    string   `json:"pattern"`
				Types      []string `json:"indicator_types"`
				ValidFrom  string   `json:"valid_from"`
				ValidUntil string   `json:"valid_until"`
			}
			if json.Unmarshal(o.Raw, &ind) != nil {
				continue
			}
			if q != "" && !strings.Contains(strings.ToLower(ind.Name+" "+ind.Pattern), q) {
				continue
			}
			out = append(out, indicatorRow{ID: o.ID, Name: ind.Name, Pattern: ind.Pattern, Types: ind.Types,
				ValidFrom: ind.ValidFrom, ValidUntil: ind.ValidUntil, TLP: o.TLP.String(), Owner: o.Owner,
				Collection: coll.Title, Added: o.DateAdded})
		}
		scanned += len(page.Objects)
		if !page.More {
			return out, false, nil
		}
		f.Next = page.Next
	}
	return out, true, nil
}

// intelImport serves POST /web/intel/import?collection=&kind=stix|misp&tlp=:
// a STIX 2.1 bundle or a MISP event from the browser, stored for the
// member as `xsoc intel import` does, with every refusal reported.
func (c *Console) intelImport(w http.ResponseWriter, r *http.Request) {
	p, _ := api.PrincipalFrom(r.Context())
	if p.Member.ID == "" {
		api.Error(w, http.StatusForbidden, "intelligence is imported by a member: log in as a member's admin")
		return
	}
	q := r.URL.Query()
	level := tlp.Green
	if s := q.Get("tlp"); s != "" {
		l, err := tlp.Parse(s)
		if err != nil {
			api.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		level = l
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err != nil {
		api.Error(w, http.StatusRequestEntityTooLarge, "import: "+err.Error()+" (at most 16 MiB from the browser; use xsoc intel import for more)")
		return
	}
	raws, skipped, err := toSTIX(data, q.Get("kind"), level)
	if err != nil {
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	coll := q.Get("collection")
	st, err := c.cfg.Intel.AddObjects(r.Context(), intelViewer(p), coll, raws)
	switch {
	case errors.Is(err, intel.ErrForbidden):
		api.Error(w, http.StatusForbidden, err.Error())
		return
	case errors.Is(err, intel.ErrNotFound):
		api.Error(w, http.StatusNotFound, err.Error())
		return
	case err != nil:
		api.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	api.JSON(w, http.StatusOK, map[string]any{"stored": len(st.Successes), "refused": st.Failures, "skipped": skipped})
}

// toSTIX converts an upload to STIX objects: kind "stix" (a bundle),
// "misp" (a MISP event), or empty to tell them apart by content.
func toSTIX(data []byte, kind string, level tlp.Level) ([]json.RawMessage, []string, error) {
	if kind == "" {
		var probe struct {
			Type  string          `json:"type"`
			Event json.RawMessage `json:"Event"`
		}
		if err := json.Unmarshal(data, &probe); err != nil {
			return nil, nil, fmt.Errorf("import: not JSON: %v", err)
		}
		kind = "misp"
		if probe.Type == "bundle" {
			kind = "stix"
		}
	}
	var objs []stix.Object
	var skipped []string
	switch kind {
	case "stix":
		b, errs := stix.DecodeBundle(data)
		for _, e := range errs {
			skipped = append(skipped, fmt.Sprintf("object %d %s: %v", e.Index, e.ID, e.Err))
		}
		objs = b.Objects
	case "misp":
		res, err := misp.ImportEvent(data, misp.Options{DefaultTLP: level, Source: "web"})
		if err != nil {
			return nil, nil, err
		}
		for _, it := range res.Items {
			if it.Outcome == misp.Skipped {
				skipped = append(skipped, fmt.Sprintf("%s %s: %s", it.Type, it.Value, it.Reason))
			}
		}
		objs = append(objs, res.Objects()...)
	default:
		return nil, nil, fmt.Errorf("import: kind %q: want stix or misp", kind)
	}
	if len(objs) == 0 {
		return nil, skipped, errors.New("import: nothing to store: the upload holds no STIX object or MISP attribute that could be imported")
	}
	raws := make([]json.RawMessage, 0, len(objs))
	for _, o := range objs {
		raw, err := json.Marshal(o)
		if err != nil {
			return nil, nil, err
		}
		raws = append(raws, raw)
	}
	return raws, skipped, nil
}
