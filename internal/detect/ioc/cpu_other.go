//go:build !unix

package ioc

import "time"

// processCPU is not available here: Bench falls back to the wall clock.
func processCPU() time.Duration { return 0 }
