// Package starter holds the content a new node starts with: a Sigma rule
// pack aimed at the intrusion steps every SOC sees first (macro documents,
// PowerShell stagers, credential dumping, lateral movement, exfiltration,
// DGA lookups). The rules are xsoc's own; load more with "xsoc rules import".
package starter

import (
	"embed"
	"io/fs"
)

//go:embed sigma/*.yml
var sigmaFS embed.FS

// SigmaRules returns the starter Sigma rules as a file system whose root
// holds the .yml files.
func SigmaRules() fs.FS {
	sub, err := fs.Sub(sigmaFS, "sigma")
	if err != nil {
		panic(err) // the embedded directory exists by construction
	}
	return sub
}
