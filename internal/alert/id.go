package alert

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// IDLen is the length of the ids NewID returns.
const IDLen = 28

// NewID returns a new id for an object created at t: 12 hex digits of Unix
// milliseconds followed by 16 hex digits of randomness. Ids sort by creation
// time as strings, which makes them usable as keyset cursors, and need no
// coordination between processes: the random part makes collisions
// negligible (2^-64 per pair created in the same millisecond).
func NewID(t time.Time) string {
	var b [14]byte
	ms := uint64(t.UnixMilli())
	// 48 bits of milliseconds last until the year 10889.
	b[0], b[1] = byte(ms>>40), byte(ms>>32)
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	rand.Read(b[6:]) // never fails (crypto/rand documents it panics instead)
	return hex.EncodeToString(b[:])
}

// ValidID reports whether s has the form NewID produces.
func ValidID(s string) bool {
	if len(s) != IDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
