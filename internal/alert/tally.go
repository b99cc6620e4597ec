package alert

import (
	"context"
	"fmt"
	"time"

	"github.com/xsoc/xsoc/internal/store"
)

// Tally is what a dashboard shows of the alerts a viewer may see in a
// period: counts by member, severity and detector, and a time series.
type Tally struct {
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Total    int            `json:"total"`
	Groups   []TallyGroup   `json:"groups"`
	Series   []TallyBucket  `json:"series"`
	Step     time.Duration  `json:"-"`
	ByStatus map[Status]int `json:"by_status"`
}

// TallyGroup counts the alerts of one member, severity and detector.
type TallyGroup struct {
	Member   string   `json:"member"`
	Severity Severity `json:"severity"`
	Detector string   `json:"detector"`
	Count    int      `json:"count"`
}

// TallyBucket counts the alerts detected in one step of the period, with
// their mean time to detect (detection time minus event time).
type TallyBucket struct {
	Start     time.Time `json:"start"`
	Count     int       `json:"count"`
	MeanTTDMs float64   `json:"mean_ttd_ms"`
}

// Tally counts the alerts v may see detected in [from, to), in buckets of
// step. It aggregates in the store, so its cost does not grow with what
// it sends back.
func (s *Service) Tally(ctx context.Context, v Viewer, from, to time.Time, step time.Duration) (Tally, error) {
	if !from.Before(to) || step <= 0 || to.Sub(from)/step > 10000 {
		return Tally{}, fmt.Errorf("%w: tally period %v to %v in steps of %v", ErrInvalid, from, to, step)
	}
	vis, vargs := v.Where("member", "tlp")
	args := append([]any{store.Nanos(from), store.Nanos(to)}, vargs...)
	t := Tally{From: from, To: to, Step: step, ByStatus: map[Status]int{}}
	rows, err := s.db.Query(ctx, `SELECT member, tlp, severity, detector, status, COUNT(*) FROM alerts
		WHERE detected >= ? AND detected < ? AND `+vis+` GROUP BY member, tlp, severity, detector, status`, args...)
	if err != nil {
		return Tally{}, fmt.Errorf("alert: tally: %w", err)
	}
	defer rows.Close()
	type key struct {
		member   string
		severity Severity
		detector string
	}
	index := map[key]int{}
	for rows.Next() {
		var (
			a          Alert
			level, sev int64
			status     string
			n          int
		)
		if err := rows.Scan(&a.Member, &level, &sev, &a.Detector, &status, &n); err != nil {
			return Tally{}, fmt.Errorf("alert: tally: %w", err)
		}
		a.TLP, a.Severity = tlpLevel(level), Severity(sev)
		if !v.MaySee(&a) { // the SQL condition derives from MaySee; see List
			continue
		}
		k := key{a.Member, a.Severity, a.Detector}
		i, ok := index[k]
		if !ok {
			i = len(t.Groups)
			index[k] = i
			t.Groups = append(t.Groups, TallyGroup{Member: a.Member, Severity: a.Severity, Detector: a.Detector})
		}
		t.Groups[i].Count += n
		t.ByStatus[Status(status)] += n
		t.Total += n
	}
	if err := rows.Err(); err != nil {
		return Tally{}, fmt.Errorf("alert: tally: %w", err)
	}
	return t, s.tallySeries(ctx, &t, vis, args)
}

func (s *Service) tallySeries(ctx context.Context, t *Tally, vis string, args []any) error {
	step := int64(t.Step)
	rows, err := s.db.Query(ctx, `SELECT (detected - ?) / ?, COUNT(*), CAST(AVG(detected - event_time) AS DOUBLE PRECISION)
		FROM alerts WHERE detected >= ? AND detected < ? AND `+vis+` GROUP BY 1`,
		append([]any{store.Nanos(t.From), step}, args...)...)
	if err != nil {
		return fmt.Errorf("alert: tally series: %w", err)
	}
	defer rows.Close()
	n := int(t.To.Sub(t.From) / t.Step)
	if t.To.Sub(t.From)%t.Step != 0 {
		n++
	}
	t.Series = make([]TallyBucket, n)
	for i := range t.Series {
		t.Series[i].Start = t.From.Add(time.Duration(i) * t.Step)
	}
	for rows.Next() {
		var (
			i     int64
			count int
			mean  float64
		)
		if err := rows.Scan(&i, &count, &mean); err != nil {
			return fmt.Errorf("alert: tally series: %w", err)
		}
		if i >= 0 && i < int64(n) {
			t.Series[i].Count, t.Series[i].MeanTTDMs = count, mean/1e6
		}
	}
	return rows.Err()
}
