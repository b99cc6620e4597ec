package sigmabench

import (
	"bufio"
	"fmt"
	"io"

	"github.com/xsoc/xsoc/internal/event"
)

// WriteNDJSON writes events one flat ECS JSON object per line, the form
// "xsoc bench sigma --events FILE" reads.
func WriteNDJSON(w io.Writer, events []*event.Event) error {
	bw := bufio.NewWriter(w)
	var buf []byte
	for _, ev := range events {
		buf = ev.AppendJSON(buf[:0])
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// maxLine bounds one event line.
const maxLine = 1 << 20

// ReadNDJSON reads events written one JSON object per line; blank lines
// are skipped, and a bad line is an error naming its number.
func ReadNDJSON(r io.Reader) ([]*event.Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var out []*event.Event
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		ev := &event.Event{}
		if err := ev.ParseJSON(line); err != nil {
			return out, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}
