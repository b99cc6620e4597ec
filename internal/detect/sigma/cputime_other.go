//go:build !linux

package sigma

// threadCPU is unavailable off Linux; Bench then reports wall time only.
func threadCPU() (int64, bool) { return 0, false }
