package format

import (
	"bytes"
	"fmt"
)

// ScanSyslog is a bufio.SplitFunc for syslog over a stream (TCP or TLS). It
// detects the framing of each message on its own, as senders mix them:
//
//   - octet counting (RFC 6587 section 3.4.1, RFC 5425): "LEN SP MSG", where
//     LEN is the decimal length of MSG;
//   - non-transparent framing (RFC 6587 section 3.4.2): the message ends at
//     LF or NUL; a CR before the LF is dropped.
//
// Empty frames are skipped. A frame or a line longer than MaxRecord is an
// error wrapping ErrTooLong, and so is a stream that ends in the middle of
// an octet-counted frame: the connection cannot be resynchronised after
// either. The scanner's buffer must hold MaxRecord plus the length prefix:
//
//	sc.Buffer(make([]byte, 64<<10), format.MaxRecord+16)
func ScanSyslog(data []byte, atEOF bool) (advance int, token []byte, err error) {
	// Empty frames are skipped here rather than returned as "advance, no
	// token": bufio.Scanner stops at the first of those once the stream
	// has ended, which would drop the frames after it.
	for {
		n, tok, err := scanFrame(data[advance:], atEOF)
		if err != nil {
			return 0, nil, err
		}
		advance += n
		if tok != nil || n == 0 {
			return advance, tok, nil
		}
	}
}

// scanFrame reads one frame at the start of data. An empty frame yields an
// advance and no token; no advance means more data is needed.
func scanFrame(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	if isDigit(data[0]) {
		if adv, tok, framed, err := scanOctetCounted(data, atEOF); framed {
			return adv, tok, err
		}
	}
	return scanLine(data, atEOF)
}

// maxLengthDigits is the longest LEN prefix that can be within MaxRecord
// (1048576 has seven digits).
const maxLengthDigits = 7

// scanOctetCounted reads "LEN SP MSG". framed is false when data does not
// start with a length prefix after all (digits not followed by a space), so
// that the frame is read as a line instead.
func scanOctetCounted(data []byte, atEOF bool) (advance int, token []byte, framed bool, err error) {
	i := 0
	for i < len(data) && isDigit(data[i]) {
		if i == maxLengthDigits {
			return 0, nil, true, fmt.Errorf("syslog: octet-counted frame length %q...: %w", data[:i], ErrTooLong)
		}
		i++
	}
	if i == len(data) {
		if atEOF {
			return 0, nil, false, nil // digits alone: a (short) line
		}
		return 0, nil, true, nil // need more to know
	}
	if data[i] != ' ' {
		return 0, nil, false, nil
	}
	n, _ := digits(data[:i])
	if n > MaxRecord {
		return 0, nil, true, fmt.Errorf("syslog: octet-counted frame of %d bytes: %w", n, ErrTooLong)
	}
	end := i + 1 + n
	if end > len(data) {
		if atEOF {
			return 0, nil, true, fmt.Errorf("syslog: stream ended inside an octet-counted frame: want %d bytes, have %d", n, len(data)-i-1)
		}
		return 0, nil, true, nil
	}
	tok := data[i+1 : end]
	if len(tok) == 0 {
		return end, nil, true, nil
	}
	return end, tok, true, nil
}

// scanLine reads a message ended by LF or NUL.
func scanLine(data []byte, atEOF bool) (advance int, token []byte, err error) {
	limit := data
	if len(limit) > MaxRecord+1 {
		limit = limit[:MaxRecord+1]
	}
	if i := frameEnd(limit); i >= 0 {
		tok := bytes.TrimSuffix(data[:i], []byte("\r"))
		if len(tok) == 0 {
			return i + 1, nil, nil
		}
		return i + 1, tok, nil
	}
	if len(data) > MaxRecord {
		return 0, nil, fmt.Errorf("syslog: line without LF in the first %d bytes: %w", MaxRecord, ErrTooLong)
	}
	if atEOF {
		tok := bytes.TrimSuffix(data, []byte("\r"))
		if len(tok) == 0 {
			return len(data), nil, nil
		}
		return len(data), tok, nil
	}
	return 0, nil, nil
}

// frameEnd returns the index of the first LF or NUL in s, or -1. Two
// IndexByte calls are much faster than one IndexAny.
func frameEnd(s []byte) int {
	i := bytes.IndexByte(s, '\n')
	head := s
	if i >= 0 {
		head = s[:i]
	}
	if j := bytes.IndexByte(head, 0); j >= 0 {
		return j
	}
	return i
}
