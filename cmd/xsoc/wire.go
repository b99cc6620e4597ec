package main

import (
	"context"

	"github.com/xsoc/xsoc/internal/node"
)

// wire adds the detectors, alerting and API routes of the optional
// components to a node before it runs.
func wire(ctx context.Context, n *node.Node) error {
	return nil
}
