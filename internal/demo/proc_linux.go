package demo

import (
	"os"
	"syscall"
)

// childAttrs makes a node process receive SIGTERM when the demonstration
// process dies, however it dies, so that no node outlives it.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// terminate asks a node process to shut down cleanly.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
