package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits bound what one request, one API key and all requests together
// may take from a node, so that no sender can exhaust it.
type Limits struct {
	// IngestMaxBody bounds one ingest request body after decompression
	// (413 past it).
	IngestMaxBody Size `yaml:"ingest_max_body"`
	// MemoryBudget bounds the memory ingest request bodies hold at once,
	// node-wide (503 with Retry-After past it).
	MemoryBudget Size `yaml:"memory_budget"`
	// KeyMemory is the part of MemoryBudget one API key's requests may hold
	// at once, so that one key cannot take all of it.
	KeyMemory Size `yaml:"key_memory"`
	// IngestConcurrency bounds concurrent ingest requests (429 past it).
	IngestConcurrency int `yaml:"ingest_concurrency"`
	// IngestRate and IngestBurst are each API key's token bucket for bulk
	// ingest requests: requests per second, and how many may come at once
	// (429 with Retry-After past it). A rate of 0 turns the limit off.
	IngestRate  float64 `yaml:"ingest_rate"`
	IngestBurst int     `yaml:"ingest_burst"`
	// APIRate and APIBurst are each API key's token bucket for all other
	// requests, REST and TAXII alike, and each console user's for its
	// pages and REST calls.
	APIRate  float64 `yaml:"api_rate"`
	APIBurst int     `yaml:"api_burst"`
	// APIMaxBody bounds the body of any request but bulk ingest (413).
	APIMaxBody Size `yaml:"api_max_body"`
	// MaxPage bounds the limit parameter of list and search requests (400).
	MaxPage int `yaml:"max_page"`
	// MaxRange bounds the from..to span of a hunting query (400).
	MaxRange time.Duration `yaml:"max_range"`
}

// DefaultLimits are the limits of a node whose configuration names none.
func DefaultLimits() Limits {
	return Limits{
		IngestMaxBody:     64 << 20,
		MemoryBudget:      1 << 30,
		KeyMemory:         256 << 20,
		IngestConcurrency: 256,
		IngestRate:        5000,
		IngestBurst:       10000,
		APIRate:           100,
		APIBurst:          1000,
		APIMaxBody:        16 << 20,
		MaxPage:           1000,
		MaxRange:          31 * 24 * time.Hour,
	}
}

func (l *Limits) validate() error {
	switch {
	case l.IngestMaxBody < 1<<20:
		return fmt.Errorf("config: limits.ingest_max_body %s is under 1MiB, the longest line", l.IngestMaxBody)
	case l.MemoryBudget < l.IngestMaxBody:
		return fmt.Errorf("config: limits.memory_budget %s is under ingest_max_body %s: no body that size could be taken", l.MemoryBudget, l.IngestMaxBody)
	case l.KeyMemory < l.IngestMaxBody || l.KeyMemory > l.MemoryBudget:
		return fmt.Errorf("config: limits.key_memory %s must lie between ingest_max_body %s and memory_budget %s", l.KeyMemory, l.IngestMaxBody, l.MemoryBudget)
	case l.IngestConcurrency < 1:
		return errors.New("config: limits.ingest_concurrency must be at least 1")
	case l.IngestRate < 0 || l.APIRate < 0:
		return errors.New("config: limits.ingest_rate and api_rate must not be negative (0 turns a limit off)")
	case l.IngestRate > 0 && l.IngestBurst < 1 || l.APIRate > 0 && l.APIBurst < 1:
		return errors.New("config: limits.ingest_burst and api_burst must be at least 1")
	case l.APIMaxBody < 1<<20:
		return fmt.Errorf("config: limits.api_max_body %s is under 1MiB", l.APIMaxBody)
	case l.MaxPage < 1:
		return errors.New("config: limits.max_page must be at least 1")
	case l.MaxRange < time.Hour:
		return fmt.Errorf("config: limits.max_range %s is under an hour", l.MaxRange)
	}
	return nil
}

// Size is a number of bytes, written as an integer or with a unit: 512KiB,
// 64MiB, 1GiB (or KB, MB, GB, also powers of 1024).
type Size int64

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"KB", 10}, {"MB", 20}, {"GB", 30}, {"B", 0}}

// ParseSize reads a Size.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	var shift uint
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, shift = strings.TrimSpace(rest), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q: want bytes, or a number with KiB, MiB or GiB", s)
	}
	return Size(n << shift), nil
}

// UnmarshalText reads a Size from YAML or the environment.
func (z *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// String writes a Size in the largest unit that divides it.
func (z Size) String() string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if z != 0 && z%(1<<u.shift) == 0 {
			return strconv.FormatInt(int64(z)>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(z), 10) + "B"
}
