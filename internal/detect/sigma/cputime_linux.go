package sigma

import "syscall"

// threadCPU returns the CPU time the calling OS thread has used, in
// nanoseconds. On a shared machine it measures the engine's own work,
// where wall time also counts the time other processes held the core.
func threadCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
