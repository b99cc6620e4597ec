package ml

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
)

// Saved detector state: a versioned binary file, so that what a detector
// has learnt survives a restart.
//
//	"XSOCMLST"        8 bytes
//	version           uint16, stateVersion
//	kind              uint8 length, then the detector's name
//	payload           the detector's own layout
//	checksum          uint32, CRC-32C of everything before it
//
// All integers are little-endian.

const (
	stateMagic   = "XSOCMLST"
	stateVersion = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrStateIncompatible wraps the reason a state file cannot be restored
// into a detector: another detector's state, another format version, or
// options that shape the model differently.
var ErrStateIncompatible = errors.New("incompatible state")

// SaveState writes m's state to path atomically: a temporary file in the
// same directory, synced, then renamed over path.
func SaveState(path string, m encoding.BinaryMarshaler) error {
	data, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("ml state %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("ml state %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("ml state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadState restores u from the state file at path. A missing file is
// os.ErrNotExist (a first start); any other error names the file and
// says what is wrong with it, and u is left as it was.
func LoadState(path string, u encoding.BinaryUnmarshaler) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := u.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("ml state %s: %w", path, err)
	}
	return nil
}

// stateWriter appends a state file.
type stateWriter struct{ b []byte }

func newStateWriter(kind string, size int) *stateWriter {
	w := &stateWriter{b: make([]byte, 0, size+64)}
	w.b = append(w.b, stateMagic...)
	w.u16(stateVersion)
	w.str(kind)
	return w
}

func (w *stateWriter) u8(v uint8)    { w.b = append(w.b, v) }
func (w *stateWriter) u16(v uint16)  { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *stateWriter) u32(v uint32)  { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *stateWriter) u64(v uint64)  { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *stateWriter) f32(v float32) { w.u32(math.Float32bits(v)) }
func (w *stateWriter) f64(v float64) { w.u64(math.Float64bits(v)) }
func (w *stateWriter) str(s string) {
	w.u8(uint8(len(s)))
	w.b = append(w.b, s[:min(len(s), 255)]...)
}

// finish appends the checksum and returns the file's bytes.
func (w *stateWriter) finish() []byte {
	return binary.LittleEndian.AppendUint32(w.b, crc32.Checksum(w.b, crcTable))
}

// stateReader reads a state file; the first short read sticks as err.
type stateReader struct {
	b   []byte
	err error
}

// openState checks the magic, version, kind and checksum of data.
func openState(data []byte, kind string) (*stateReader, error) {
	if len(data) < len(stateMagic)+2+1+4 || string(data[:len(stateMagic)]) != stateMagic {
		return nil, errors.New("not an xsoc ML state file")
	}
	body := data[:len(data)-4]
	if sum := binary.LittleEndian.Uint32(data[len(data)-4:]); sum != crc32.Checksum(body, crcTable) {
		return nil, errors.New("checksum mismatch: the file is damaged or truncated")
	}
	r := &stateReader{b: body[len(stateMagic):]}
	if v := r.u16(); v != stateVersion {
		return nil, fmt.Errorf("%w: format version %d, this xsoc reads version %d", ErrStateIncompatible, v, stateVersion)
	}
	if k := r.str(); k != kind {
		return nil, fmt.Errorf("%w: state of detector %q, not %q", ErrStateIncompatible, k, kind)
	}
	return r, r.err
}

func (r *stateReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *stateReader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *stateReader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *stateReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *stateReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *stateReader) f32() float32 { return math.Float32frombits(r.u32()) }
func (r *stateReader) f64() float64 { return math.Float64frombits(r.u64()) }
func (r *stateReader) str() string  { return string(r.take(int(r.u8()))) }

// count reads a length and checks that at least each bytes per item
// remain, so that a damaged length cannot make the reader allocate more
// than the file holds.
func (r *stateReader) count(each int) int {
	n := int(r.u32())
	if r.err == nil && n*each > len(r.b) {
		r.err = errors.New("truncated")
		return 0
	}
	return n
}

// done checks that the whole payload was read.
func (r *stateReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		return fmt.Errorf("%d unexpected bytes after the state", len(r.b))
	}
	return r.err
}
