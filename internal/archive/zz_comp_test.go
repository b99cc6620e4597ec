package archive

import (
	"fmt"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestZZComp(t *testing.T) {
	evs, _ := sysmonEvents(t, maxBlockEvents)
	w := newBlockWriter()
	w.addAll(evs)
	type opt struct {
		name string
		o    []zstd.EOption
	}
	base := []zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false), zstd.WithEncoderLevel(zstd.SpeedFastest)}
	opts := []opt{
		{"8M", []zstd.EOption{zstd.WithWindowSize(8 << 20)}},
		{"256k", []zstd.EOption{zstd.WithWindowSize(256 << 10)}},
		{"8M-lowmem", []zstd.EOption{zstd.WithWindowSize(8 << 20), zstd.WithLowerEncoderMem(true)}},
		{"8M-alllit", []zstd.EOption{zstd.WithWindowSize(8 << 20), zstd.WithAllLitEntropyCompression(false)}},
		{"8M-noent", []zstd.EOption{zstd.WithWindowSize(8 << 20), zstd.WithNoEntropyCompression(true)}},
	}
	for round := 0; round < 3; round++ {
		for _, o := range opts {
			enc, err := zstd.NewWriter(nil, append(append([]zstd.EOption{}, base...), o.o...)...)
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			for _, which := range []string{"original", "fields"} {
				size := 0
				start := cpuTime()
				for rep := 0; rep < 4; rep++ {
					size = 0
					for _, c := range w.order {
						if (c.name == colOriginal) != (which == "original") {
							continue
						}
						out = enc.EncodeAll(c.buf, out[:0])
						size += len(out)
					}
				}
				dt := cpuTime() - start
				fmt.Printf("%-10s %-8s %5.0f cpu-ns/event  %.1f B/event\n", o.name, which, float64(dt.Nanoseconds())/4/8192, float64(size)/8192)
			}
		}
	}
}
