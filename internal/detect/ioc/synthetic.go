package ioc

import (
	"fmt"
	"strconv"

	"github.com/xsoc/xsoc/internal/tlp"
)

// AddSynthetic adds n TLP:GREEN indicators to x — SHA-256 hashes,
// domains under bad<i>.example and addresses in 198.18.0.0/15, in turn —
// that ordinary events never match, so that benchmarks can measure
// detection against an index of realistic size without alerts.
func AddSynthetic(x *Index, n int) error {
	b := x.NewBatch()
	for i := range n {
		ind := Indicator{ID: "indicator--bench-" + strconv.Itoa(i), Owner: "intel", Source: "bench", Confidence: 80, TLP: tlp.Green}
		switch i % 3 {
		case 0:
			ind.Kind, ind.Value = KindSHA256, fmt.Sprintf("%064x", uint64(i)*0x9e3779b97f4a7c15|1<<63)
		case 1:
			ind.Kind, ind.Value = KindDomain, fmt.Sprintf("bad%d.example", i)
		default:
			ind.Kind, ind.Value = KindIP, fmt.Sprintf("198.%d.%d.%d", 18+i>>16&1, i>>8&255, i&255)
		}
		if err := b.Add(ind); err != nil {
			return err
		}
	}
	return b.Commit()
}
