package ml

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/net/publicsuffix"
)

// The DGA model scores the registrable label of a DNS name — "google" in
// www.google.co.uk, "xkqjvbt" in xkqjvbt.dyndns.org — because that is the
// part a domain generation algorithm chooses: the public suffix and any
// host labels under it are not the malware's. Scoring is a logistic
// regression over lexical features of the label, one of which is how
// likely its characters are under a character trigram model of benign
// names. Both are learnt by Train and stored in one small binary model.

// alphabet maps a byte to its character class for the trigram model:
// 0 is the label boundary, 1–26 the letters, 27–36 the digits, 37 the
// hyphen, 38 the underscore and 39 anything else (non-ASCII bytes included).
const alphabet = 40

// classOf returns the trigram-model class of byte c (lower case).
func classOf(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 1
	case c >= '0' && c <= '9':
		return int(c-'0') + 27
	case c == '-':
		return 37
	case c == '_':
		return 38
	}
	return 39
}

// maxLabel caps the bytes of a label that are scored. A DNS label has at
// most 63; longer input is adversarial and its first 63 bytes say enough.
const maxLabel = 63

// trigramScale quantises log-probabilities into int8: q = round(ln p * 16),
// so the table covers probabilities down to e^-8.
const trigramScale = 16

// rareLogP is the log-probability under which a transition counts as rare.
const rareLogP = -6.0

// The features, in model order. featureNames and featureUnits describe
// them for explanations.
const (
	fLength = iota
	fEntropy
	fVowels
	fDigits
	fConsonantRun
	fHyphens
	fLikelihood
	fRare
	fDistinct
	fSwitches
	fHex
	fOther
	fRatio
	fKnown4
	fUncovered
	fEntropyNorm
	fLengthLogP
	fMinLogP
	numFeatures
)

var featureNames = [numFeatures]string{
	fLength:       "length",
	fEntropy:      "character entropy",
	fVowels:       "vowel share",
	fDigits:       "digit share",
	fConsonantRun: "longest consonant run",
	fHyphens:      "hyphens",
	fLikelihood:   "benign-name likelihood per character",
	fRare:         "share of rare character sequences",
	fDistinct:     "distinct characters share",
	fSwitches:     "letter/digit switches",
	fHex:          "hexadecimal-looking",
	fOther:        "share of non-DNS characters",
	fRatio:        "log-likelihood ratio, benign vs random characters",
	fKnown4:       "share of letter 4-grams seen in benign names",
	fUncovered:    "share of letters in no benign 4-gram",
	fEntropyNorm:  "character entropy for its length",
	fLengthLogP:   "log-probability of the length among benign names",
	fMinLogP:      "least likely character transition",
}

// DGAModel is a trained DGA classifier. It is read-only once built and
// safe for concurrent use.
type DGAModel struct {
	// Mean and Scale standardise each feature before the weights apply.
	Mean, Scale [numFeatures]float64
	Weights     [numFeatures]float64
	Bias        float64
	// Threshold is the probability at or above which a name is called
	// generated; Train sets it from the benign false-positive rate.
	Threshold float64
	// trigram holds quantised ln P(c | two previous classes), indexed by
	// (a*alphabet+b)*alphabet+c.
	trigram [alphabet * alphabet * alphabet]int8
	// Baseline holds each feature's median over the benign training
	// labels, quoted in explanations ("length 19 vs 10").
	Baseline [numFeatures]float64
	// known4 is a bit set over the 26^4 letter 4-grams: set for those
	// that occur in at least known4Min distinct benign training labels.
	// It stands in for a word list — whole words are made of such
	// 4-grams, random letters mostly are not — and is exact, where a
	// hashed table of longer n-grams would collide.
	known4 [known4Words]uint64
	// lengthLogP holds quantised ln P(length) over the benign training
	// labels, add-one smoothed, for lengths 1..maxLabel.
	lengthLogP [maxLabel + 1]int8
}

// known4Grams is the number of letter 4-grams; known4Words the words of
// their bit set.
const (
	known4Grams = 26 * 26 * 26 * 26
	known4Words = (known4Grams + 63) / 64
	// known4Min is how many distinct benign labels must share a 4-gram
	// for it to count as known: one label's quirk is not a word part.
	known4Min = 3
)

// DGAFeatures are the lexical features of one label.
type DGAFeatures [numFeatures]float64

// Label returns the registrable label of a DNS name and whether there is
// one: names without a public suffix and a label before it (single-label
// host names, bare suffixes, reverse-lookup names, addresses) have none.
// name may be in any case and may end in a dot.
func Label(name string) (string, bool) {
	return labelOf(name, nil)
}

// labelOf is Label with an optional cache of public-suffix lookups.
func labelOf(name string, cache *suffixCache) (string, bool) {
	name = strings.TrimSuffix(name, ".")
	if len(name) > 253 {
		name = name[len(name)-253:] // the registrable part is at the end
	}
	if name == "" || strings.IndexByte(name, '.') < 0 || strings.HasSuffix(name, ".arpa") ||
		strings.IndexByte(name, ':') >= 0 {
		return "", false
	}
	name = strings.ToLower(name)
	if isIPv4(name) {
		return "", false
	}
	var suffixLen int
	if cache != nil {
		suffixLen = cache.suffixLen(name)
	} else {
		suffix, _ := publicsuffix.PublicSuffix(name)
		suffixLen = len(suffix)
	}
	if suffixLen >= len(name) {
		return "", false
	}
	rest := name[:len(name)-suffixLen-1]
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		rest = rest[i+1:]
	}
	if rest == "" {
		return "", false
	}
	return rest, true
}

// suffixCache remembers how many labels the public suffix of a name's
// tail has. publicsuffix.PublicSuffix allocates on every call (it first
// tries the name as an IP address), and a DNS stream repeats the same
// few thousand zones, so the detector looks each up once. The suffix of
// a name depends on its last few labels only (no public-suffix rule is
// deeper than five), so the key is the hash of its last six. Entries pack
// a 56-bit hash and the label count; concurrent writers at worst
// overwrite each other's entry.
type suffixCache struct {
	slots [suffixSlots]atomic.Uint64
}

const (
	suffixSlots  = 4096
	suffixLabels = 6
)

func (c *suffixCache) suffixLen(name string) int {
	tail := name
	dots := 0
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			if dots++; dots == suffixLabels {
				tail = name[i+1:]
				break
			}
		}
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(tail); i++ {
		h = (h ^ uint64(tail[i])) * 1099511628211
	}
	slot := &c.slots[h%suffixSlots]
	if e := slot.Load(); e>>8 == h>>8 && e&0xFF != 0 {
		return labelsLen(name, int(e&0xFF))
	}
	suffix, _ := publicsuffix.PublicSuffix(tail)
	n := strings.Count(suffix, ".") + 1
	if n < suffixLabels && n < 0xFF {
		slot.Store(h&^0xFF | uint64(n))
	}
	if tail != name {
		return labelsLen(name, n)
	}
	return len(suffix)
}

// labelsLen returns the length of the last n labels of name.
func labelsLen(name string, n int) int {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			if n--; n == 0 {
				return len(name) - i - 1
			}
		}
	}
	return len(name)
}

// isIPv4 reports whether s is made of digits and dots only.
func isIPv4(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Features computes the features of a registrable label. It does not
// allocate.
func (m *DGAModel) Features(label string) DGAFeatures {
	var f DGAFeatures
	if len(label) > maxLabel {
		label = label[:maxLabel]
	}
	n := len(label)
	if n == 0 {
		return f
	}
	var counts [alphabet]uint8
	var vowels, digits, hyphens, other, run, maxRun, switches, distinct int
	hex := true
	prev, prev2 := 0, 0
	var logp float64
	minLogP := 0.0
	rare := 0
	lastKind := 0 // 1 letter, 2 digit
	// gram is the rolling index of the last letters (base 26), letters
	// how many consecutive letters it holds; covered is a bit mask over
	// label positions inside a known 4-gram.
	var gram, letters, windows, known int
	var covered uint64
	for i := 0; i < n; i++ {
		c := label[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		k := classOf(c)
		if counts[k] == 0 {
			distinct++
		}
		counts[k]++
		kind := 0
		switch {
		case k >= 1 && k <= 26:
			kind = 1
			gram = (gram*26 + k - 1) % known4Grams
			if letters++; letters >= 4 {
				windows++
				if m.known4[gram>>6]&(1<<(gram&63)) != 0 {
					known++
					covered |= 0xF << (i - 3)
				}
			}
			if isVowel(c) {
				vowels++
				run = 0
			} else {
				run++
				maxRun = max(maxRun, run)
			}
			if c > 'f' {
				hex = false
			}
		case k >= 27 && k <= 36:
			kind = 2
			digits++
			run = 0
			letters = 0
		default:
			letters = 0
			if k == 37 {
				hyphens++
			} else {
				other++
			}
			hex = false
			run = 0
		}
		if kind != 0 && lastKind != 0 && kind != lastKind {
			switches++
		}
		if kind != 0 {
			lastKind = kind
		}
		lp := m.logP(prev2, prev, k)
		logp += lp
		minLogP = min(minLogP, lp)
		if lp < rareLogP {
			rare++
		}
		prev2, prev = prev, k
	}
	lp := m.logP(prev2, prev, 0)
	logp += lp
	minLogP = min(minLogP, lp)
	if lp < rareLogP {
		rare++
	}
	var entropy float64
	for _, c := range counts {
		if c != 0 {
			p := float64(c) / float64(n)
			entropy -= p * math.Log2(p)
		}
	}
	fn := float64(n)
	f[fLength] = fn
	f[fEntropy] = entropy
	f[fVowels] = float64(vowels) / fn
	f[fDigits] = float64(digits) / fn
	f[fConsonantRun] = float64(maxRun)
	f[fHyphens] = float64(hyphens)
	f[fLikelihood] = logp / (fn + 1)
	f[fRare] = float64(rare) / (fn + 1)
	f[fDistinct] = float64(distinct) / fn
	f[fSwitches] = float64(switches)
	if hex && n >= 12 {
		f[fHex] = 1
	}
	f[fOther] = float64(other) / fn
	f[fRatio] = logp + (fn+1)*math.Log(alphabet-2)
	f[fKnown4] = 1 // too short to tell: as a word would
	if windows > 0 {
		f[fKnown4] = float64(known) / float64(windows)
	}
	f[fUncovered] = float64(n-bits.OnesCount64(covered)-digits-hyphens-other) / fn
	if f[fUncovered] < 0 || windows == 0 {
		f[fUncovered] = 0
	}
	f[fEntropyNorm] = 0
	if n > 1 {
		f[fEntropyNorm] = entropy / math.Log2(float64(min(n, alphabet-1)))
	}
	f[fLengthLogP] = float64(m.lengthLogP[n]) / trigramScale
	f[fMinLogP] = minLogP
	return f
}

func isVowel(c byte) bool {
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y'
}

func (m *DGAModel) logP(a, b, c int) float64 {
	return float64(m.trigram[(a*alphabet+b)*alphabet+c]) / trigramScale
}

// Probability returns the model's probability that features f belong to
// a generated name.
func (m *DGAModel) Probability(f *DGAFeatures) float64 {
	z := m.Bias
	for i := range f {
		z += m.Weights[i] * (f[i] - m.Mean[i]) / m.Scale[i]
	}
	return 1 / (1 + math.Exp(-z))
}

// Score returns the probability that label was generated. It does not
// allocate.
func (m *DGAModel) Score(label string) float64 {
	f := m.Features(label)
	return m.Probability(&f)
}

// Contribution is one feature's share in a score, for explanations.
type Contribution struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
	// Baseline is the feature's median over benign training names.
	Baseline float64 `json:"baseline"`
	// Weight is the feature's pull on the log-odds (positive: towards
	// generated).
	Weight float64 `json:"weight"`
}

// Explain returns the features that pushed f towards "generated", the
// strongest first, at most n of them.
func (m *DGAModel) Explain(f *DGAFeatures, n int) []Contribution {
	var out []Contribution
	for i := range f {
		w := m.Weights[i] * (f[i] - m.Mean[i]) / m.Scale[i]
		if w <= 0 {
			continue
		}
		out = append(out, Contribution{Feature: featureNames[i], Value: f[i], Baseline: m.Baseline[i], Weight: w})
	}
	sortContributions(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// sortContributions orders by weight, descending (insertion sort: a
// dozen entries at most).
func sortContributions(cs []Contribution) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Weight > cs[j-1].Weight; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// The binary model file: magic, format version, feature count, the
// float64 parameters (mean, scale, weights, benign baseline, bias,
// threshold), the trigram table, the known 4-gram bit set, the length
// table, and a CRC-32 of all that precedes it. Everything is
// little-endian. Version 1 (thirteen features, no 4-gram set nor length
// table) is refused with a request to retrain: its weights mean nothing
// to the version-2 features.
const (
	dgaMagic   = "XSOCDGA\x00"
	dgaVersion = 2
)

// ErrModel marks a model file that cannot be used: wrong format,
// version, size or checksum.
var ErrModel = errors.New("unusable model")

// MarshalBinary encodes the model in its file format.
func (m *DGAModel) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(dgaMagic)
	le := binary.LittleEndian
	b.Write(le.AppendUint32(nil, dgaVersion))
	b.Write(le.AppendUint32(nil, numFeatures))
	for _, arr := range [][numFeatures]float64{m.Mean, m.Scale, m.Weights, m.Baseline} {
		for _, v := range arr {
			b.Write(le.AppendUint64(nil, math.Float64bits(v)))
		}
	}
	for _, v := range []float64{m.Bias, m.Threshold} {
		b.Write(le.AppendUint64(nil, math.Float64bits(v)))
	}
	for _, v := range m.trigram {
		b.WriteByte(byte(v))
	}
	for _, w := range m.known4 {
		b.Write(le.AppendUint64(nil, w))
	}
	for _, v := range m.lengthLogP {
		b.WriteByte(byte(v))
	}
	b.Write(le.AppendUint32(nil, crc32.ChecksumIEEE(b.Bytes())))
	return b.Bytes(), nil
}

// dgaFileSize is the exact length of a version-2 model file.
const dgaFileSize = len(dgaMagic) + 4 + 4 + 8*(4*numFeatures+2) + alphabet*alphabet*alphabet + 8*known4Words + maxLabel + 1 + 4

// UnmarshalBinary decodes a model file; errors wrap ErrModel and say
// what is wrong.
func (m *DGAModel) UnmarshalBinary(data []byte) error {
	le := binary.LittleEndian
	switch {
	case len(data) < len(dgaMagic)+8 || string(data[:len(dgaMagic)]) != dgaMagic:
		return fmt.Errorf("%w: not an xsoc DGA model", ErrModel)
	case le.Uint32(data[8:]) != dgaVersion:
		return fmt.Errorf("%w: format version %d, this xsoc reads version %d (retrain with xsoc ml train dga)", ErrModel, le.Uint32(data[8:]), dgaVersion)
	case le.Uint32(data[12:]) != numFeatures:
		return fmt.Errorf("%w: %d features, this xsoc uses %d (retrain with xsoc ml train dga)", ErrModel, le.Uint32(data[12:]), numFeatures)
	case len(data) != dgaFileSize:
		return fmt.Errorf("%w: %d bytes, want %d (truncated or padded)", ErrModel, len(data), dgaFileSize)
	case crc32.ChecksumIEEE(data[:len(data)-4]) != le.Uint32(data[len(data)-4:]):
		return fmt.Errorf("%w: checksum mismatch (file damaged)", ErrModel)
	}
	p := data[16:]
	next := func() float64 {
		v := math.Float64frombits(le.Uint64(p))
		p = p[8:]
		return v
	}
	for _, arr := range []*[numFeatures]float64{&m.Mean, &m.Scale, &m.Weights, &m.Baseline} {
		for i := range arr {
			arr[i] = next()
		}
	}
	m.Bias, m.Threshold = next(), next()
	for i := range m.trigram {
		m.trigram[i] = int8(p[i])
	}
	p = p[len(m.trigram):]
	for i := range m.known4 {
		m.known4[i] = le.Uint64(p)
		p = p[8:]
	}
	for i := range m.lengthLogP {
		m.lengthLogP[i] = int8(p[i])
	}
	for i, s := range m.Scale {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("%w: feature %q has scale %v", ErrModel, featureNames[i], s)
		}
	}
	if !(m.Threshold > 0 && m.Threshold < 1) {
		return fmt.Errorf("%w: threshold %v outside (0, 1)", ErrModel, m.Threshold)
	}
	return nil
}

//go:embed dga.model
var embeddedDGA []byte

// DefaultDGAModel returns the model built into xsoc (trained by
// "xsoc ml train dga" and embedded at build time).
func DefaultDGAModel() *DGAModel {
	m := new(DGAModel)
	if err := m.UnmarshalBinary(embeddedDGA); err != nil {
		panic("ml: embedded DGA model: " + err.Error()) // a build defect, caught by the tests
	}
	return m
}

// LoadDGAModel reads a model file. Its errors name the file.
func LoadDGAModel(path string) (*DGAModel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dga model %s: %w", path, err)
	}
	m := new(DGAModel)
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("dga model %s: %w", path, err)
	}
	return m, nil
}
