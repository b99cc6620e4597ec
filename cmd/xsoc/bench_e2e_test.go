package main

import (
	"math"
	"testing"
	"time"
)

func TestCPUPerEvent(t *testing.T) {
	for _, c := range []struct {
		cpu            time.Duration
		events         int64
		micros, perSec float64
	}{
		{0, 0, 0, 0},
		{time.Second, 0, 0, 0},                 // nothing accepted: no rate per event
		{0, 1000, 0, 0},                        // no CPU measured: no rate per core
		{time.Second, 1_000_000, 1, 1_000_000}, // 1 µs each: a million per core-second
		{2 * time.Second, 100_000, 20, 50_000},
		{30 * time.Second, 600_000, 50, 20_000},        // 20k/s for 30 s on all of one core
		{1500 * time.Millisecond, 4, 375_000, 4 / 1.5}, // fractions survive
	} {
		micros, perSec := cpuPerEvent(c.cpu, c.events)
		if math.Abs(micros-c.micros) > 1e-9*max(1, c.micros) || math.Abs(perSec-c.perSec) > 1e-9*max(1, c.perSec) {
			t.Errorf("cpuPerEvent(%v, %d) = %v µs, %v/s; want %v µs, %v/s", c.cpu, c.events, micros, perSec, c.micros, c.perSec)
		}
	}
}

func TestFormatParses(t *testing.T) {
	for _, c := range []struct {
		in   []pathParses
		want string
	}{
		{nil, ""},
		{[]pathParses{{Path: "detect", Parsed: 10, Reused: 2}}, "detect 10/2"},
		{[]pathParses{{Path: "archive", Parsed: 3, Reused: 9}, {Path: "detect", Parsed: 9, Reused: 3}}, "archive 3/9, detect 9/3"},
	} {
		if got := formatParses(c.in); got != c.want {
			t.Errorf("formatParses(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
