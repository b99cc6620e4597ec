package scenario

import (
	"strconv"
	"time"

	"github.com/xsoc/xsoc/internal/event"
)

// jsonw appends one JSON object to a byte slice with its keys in the order
// they are written. Real log shippers emit fields in a fixed order, and a
// hand-written appender keeps that order, is deterministic and costs no
// reflection. Commas are placed automatically: a value that does not follow
// '{' or '[' gets one.
type jsonw struct {
	b []byte
}

// sep writes the comma that separates this member from the previous one.
func (w *jsonw) sep() {
	if n := len(w.b); n > 0 {
		if c := w.b[n-1]; c != '{' && c != '[' && c != ':' {
			w.b = append(w.b, ',')
		}
	}
}

func (w *jsonw) key(k string) {
	w.sep()
	w.b = event.AppendJSONString(w.b, k)
	w.b = append(w.b, ':')
}

// begin opens the top-level object.
func (w *jsonw) begin() { w.b = append(w.b, '{') }

// end closes the innermost open object.
func (w *jsonw) end() { w.b = append(w.b, '}') }

// obj opens a nested object under k; close it with end.
func (w *jsonw) obj(k string) {
	w.key(k)
	w.b = append(w.b, '{')
}

// arr opens an array under k; close it with endArr.
func (w *jsonw) arr(k string) {
	w.key(k)
	w.b = append(w.b, '[')
}

func (w *jsonw) endArr() { w.b = append(w.b, ']') }

// elemObj opens an object as the next array element.
func (w *jsonw) elemObj() {
	w.sep()
	w.b = append(w.b, '{')
}

// elemStr writes a string as the next array element.
func (w *jsonw) elemStr(v string) {
	w.sep()
	w.b = event.AppendJSONString(w.b, v)
}

func (w *jsonw) str(k, v string) {
	w.key(k)
	w.b = event.AppendJSONString(w.b, v)
}

// strOpt writes k only when v is not empty, as shippers drop empty fields.
func (w *jsonw) strOpt(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *jsonw) strs(k string, vs []string) {
	w.arr(k)
	for _, v := range vs {
		w.elemStr(v)
	}
	w.endArr()
}

func (w *jsonw) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonw) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

// float writes v with exactly prec decimals, as Zeek writes durations and
// timestamps.
func (w *jsonw) float(k string, v float64, prec int) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', prec, 64)
}

func (w *jsonw) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

// time writes t in UTC with the given layout as a JSON string.
func (w *jsonw) time(k string, t time.Time, layout string) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.UTC().AppendFormat(w.b, layout)
	w.b = append(w.b, '"')
}

// localTime writes t in its own location with the given layout, for
// tools that log local time with an offset.
func (w *jsonw) localTime(k string, t time.Time, layout string) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, layout)
	w.b = append(w.b, '"')
}

const hexDigits = "0123456789abcdef"
