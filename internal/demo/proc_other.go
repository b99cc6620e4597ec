//go:build !linux

package demo

import (
	"os"
	"syscall"
)

// childAttrs has nothing to add where the parent's death cannot be
// signalled to its children; the demonstration stops its nodes on every
// exit path it controls.
func childAttrs() *syscall.SysProcAttr { return nil }

// terminate stops a node process.
func terminate(p *os.Process) error {
	if err := p.Signal(os.Interrupt); err != nil {
		return p.Kill()
	}
	return nil
}
