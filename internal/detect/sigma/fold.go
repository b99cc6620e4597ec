package sigma

import (
	"unicode"
	"unicode/utf8"
)

// foldAppend appends s to dst in the case-folded form that every
// case-insensitive comparison in this package uses: ASCII letters lowered
// byte by byte, other letters lowered with unicode.ToLower. Bytes that are
// not valid UTF-8 are copied as they are, so binary needles (utf16 values)
// survive folding.
func foldAppend(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, c)
			i++
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += size
	}
	return dst
}

// foldString returns s case-folded (see foldAppend).
func foldString(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return string(foldAppend(make([]byte, 0, len(s)), s))
		}
	}
	return s
}

// needsFold reports whether folding would change s.
func needsFold(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return true
		}
	}
	return false
}

// lowerOnlyASCII reports whether folding s changes nothing but its ASCII
// letters: every other character is its own lower case (®, ©, digits and
// letters of other scripts already lower case) or not valid UTF-8, which
// folding keeps. Such a value can be scanned as it is, the scans lowering
// ASCII on the fly, instead of being copied folded: event.original and
// Windows' "Microsoft® Windows® Operating System" are like that.
func lowerOnlyASCII(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			i++
			for i+8 <= len(s) && !hasHighBit8(s[i:]) {
				i += 8
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError && unicode.ToLower(r) != r {
			return false
		}
		i += size
	}
	return true
}

// equalFold compares two strings under foldAppend's folding without
// allocating.
func equalFold(a, b string) bool {
	for len(a) > 0 && len(b) > 0 {
		ca, cb := a[0], b[0]
		if ca < utf8.RuneSelf && cb < utf8.RuneSelf {
			if 'A' <= ca && ca <= 'Z' {
				ca += 'a' - 'A'
			}
			if 'A' <= cb && cb <= 'Z' {
				cb += 'a' - 'A'
			}
			if ca != cb {
				return false
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, sa := utf8.DecodeRuneInString(a)
		rb, sb := utf8.DecodeRuneInString(b)
		if unicode.ToLower(ra) != unicode.ToLower(rb) {
			return false
		}
		a, b = a[sa:], b[sb:]
	}
	return len(a) == 0 && len(b) == 0
}

// globMatch reports whether s matches the pattern p of literals and
// wildcards. '?' matches one UTF-8 character. It backtracks only to the
// last '*', so it runs in O(len(s)*len(p)) at worst.
func globMatch(p sstr, s string) bool {
	// Flatten p into a byte pattern walk over tokens.
	ti, li := 0, 0 // token index, offset within a literal token
	si := 0
	starTi, starLi, starSi := -1, 0, 0
	for si < len(s) {
		if ti < len(p) {
			t := p[ti]
			switch {
			case t.wild == '*':
				starTi, starLi, starSi = ti+1, 0, si
				ti, li = ti+1, 0
				continue
			case t.wild == '?':
				_, size := utf8.DecodeRuneInString(s[si:])
				si += size
				ti, li = ti+1, 0
				continue
			case t.lit[li] == s[si]:
				si++
				li++
				if li == len(t.lit) {
					ti, li = ti+1, 0
				}
				continue
			}
		}
		if starTi < 0 {
			return false
		}
		starSi++
		si = starSi
		ti, li = starTi, starLi
	}
	for ti < len(p) && p[ti].wild == '*' {
		ti++
	}
	return ti == len(p) && li == 0
}

// starMatch matches name against a pattern where only '*' is special
// (search identifier patterns in conditions).
func starMatch(pattern, name string) bool {
	return globMatch(parseStars(pattern), name)
}

func parseStars(pattern string) sstr {
	var out sstr
	start := 0
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '*' {
			if i > start {
				out = append(out, tok{lit: pattern[start:i]})
			}
			out = append(out, tok{wild: '*'})
			start = i + 1
		}
	}
	if start < len(pattern) {
		out = append(out, tok{lit: pattern[start:]})
	}
	return out
}
