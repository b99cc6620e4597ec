package demo

import (
	"os"
	"syscall"
)

// childAttrs makes a node process receive SIGTERM when the demonstration
// process dies, however it dies, so that no node outlives it. Each node
// gets its own process group, so that Ctrl-C in the terminal reaches the
// demonstration alone, which then stops the nodes in order.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
}

// terminate asks a node process to shut down cleanly.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
