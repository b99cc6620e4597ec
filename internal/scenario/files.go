package scenario

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// FileName is the output file of a member's records of one format:
// "<member>.<format>.ndjson" for JSON formats, "<member>.<format>.log" for
// syslog and CEF lines.
func FileName(member, format string) string {
	if IsJSON(format) {
		return member + "." + format + ".ndjson"
	}
	return member + "." + format + ".log"
}

// Names of the files WriteDir writes besides the record files.
const (
	// LabelsFile holds one Label per line, in stream order.
	LabelsFile = "labels.ndjson"
	// IndicatorsFile holds the campaigns' indicators, one per line.
	IndicatorsFile = "indicators.ndjson"
	// ManifestFile describes the scenario: members, campaigns and files.
	ManifestFile = "manifest.json"
)

// Manifest summarises a written scenario.
type Manifest struct {
	Seed      uint64           `json:"seed"`
	Start     string           `json:"start"`
	End       string           `json:"end"`
	Members   []ManifestMember `json:"members"`
	Campaigns []*Campaign      `json:"campaigns"`
	// Files maps each record file to its line count.
	Files   map[string]int `json:"files"`
	Records int            `json:"records"`
	Labels  int            `json:"labels"`
}

// ManifestMember is a member as the manifest lists it.
type ManifestMember struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Country string `json:"country"`
	Sector  string `json:"sector"`
	Public  bool   `json:"public"`
	Network string `json:"network"`
}

// dirWriter writes records into per-member, per-format files.
type dirWriter struct {
	dir    string
	files  map[string]*os.File
	bufs   map[string]*bufio.Writer
	counts map[string]int
	labels *bufio.Writer
	lf     *os.File
	nrec   int
	nlab   int
}

func newDirWriter(dir string) (*dirWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	lf, err := os.Create(filepath.Join(dir, LabelsFile))
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return &dirWriter{dir: dir, files: map[string]*os.File{}, bufs: map[string]*bufio.Writer{},
		counts: map[string]int{}, lf: lf, labels: bufio.NewWriter(lf)}, nil
}

func (w *dirWriter) write(r Record) error {
	name := FileName(r.Member, r.Format)
	b, ok := w.bufs[name]
	if !ok {
		f, err := os.Create(filepath.Join(w.dir, name))
		if err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		w.files[name] = f
		b = bufio.NewWriterSize(f, 256<<10)
		w.bufs[name] = b
	}
	b.Write(r.Line)
	if err := b.WriteByte('\n'); err != nil {
		return fmt.Errorf("scenario: writing %s: %w", name, err)
	}
	w.counts[name]++
	w.nrec++
	if r.Label != nil {
		line, err := json.Marshal(r.Label)
		if err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		w.labels.Write(line)
		w.labels.WriteByte('\n')
		w.nlab++
	}
	return nil
}

// close flushes and closes every file, reporting the first error.
func (w *dirWriter) close() error {
	var errs []error
	names := make([]string, 0, len(w.bufs))
	for name := range w.bufs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		errs = append(errs, w.bufs[name].Flush(), w.files[name].Close())
	}
	errs = append(errs, w.labels.Flush(), w.lf.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	return nil
}

// finish writes the indicators and the manifest.
func (w *dirWriter) finish(cfg Config, camps []*Campaign) error {
	var inds []byte
	for _, c := range camps {
		for _, ind := range c.Indicators() {
			line, err := json.Marshal(ind)
			if err != nil {
				return fmt.Errorf("scenario: %w", err)
			}
			inds = append(append(inds, line...), '\n')
		}
	}
	if err := os.WriteFile(filepath.Join(w.dir, IndicatorsFile), inds, 0o644); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	m := Manifest{Seed: cfg.Seed, Start: cfg.Start.UTC().Format(tsMilli), End: cfg.Start.Add(cfg.Duration).UTC().Format(tsMilli),
		Campaigns: camps, Files: w.counts, Records: w.nrec, Labels: w.nlab}
	for _, mem := range cfg.Members {
		m.Members = append(m.Members, ManifestMember{ID: mem.ID, Name: mem.Name, Country: mem.Country, Sector: mem.Sector, Public: mem.Public, Network: mem.Network.String()})
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, ManifestFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	return nil
}

// WriteFiles writes the scenario into dir: one file per member and format
// (see FileName), plus LabelsFile, IndicatorsFile and ManifestFile.
func (s *Scenario) WriteFiles(dir string) error {
	w, err := newDirWriter(dir)
	if err != nil {
		return err
	}
	for _, r := range s.Records {
		if err := w.write(r); err != nil {
			w.close()
			return err
		}
	}
	if err := w.close(); err != nil {
		return err
	}
	return w.finish(s.Config, s.Campaigns)
}

// WriteDir generates the scenario cfg describes straight into dir, in the
// layout of Scenario.WriteFiles, without holding it in memory.
func WriteDir(cfg Config, dir string) error {
	g, err := newGen(cfg)
	if err != nil {
		return err
	}
	w, err := newDirWriter(dir)
	if err != nil {
		return err
	}
	if err := g.stream(w.write); err != nil {
		w.close()
		return err
	}
	if err := w.close(); err != nil {
		return err
	}
	return w.finish(g.cfg, g.camps)
}
