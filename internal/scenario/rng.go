package scenario

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"net/netip"
)

// Every random choice in a scenario comes from a PCG generator whose seed is
// derived from Config.Seed and a stream name (member, hour, campaign...).
// Independent streams keep the output stable under local changes: adding a
// member does not reshuffle the traffic of the others.

// mix derives a 64-bit stream seed from a base seed and labels
// (SplitMix64 finaliser over each word).
func mix(seed uint64, labels ...uint64) uint64 {
	h := seed ^ 0x9e3779b97f4a7c15
	for _, l := range labels {
		h ^= l + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h = splitmix(h)
	}
	return splitmix(h)
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// strHash is FNV-1a, used to turn names into stream labels.
func strHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// newRand returns a PCG generator for the stream named by labels.
func newRand(seed uint64, labels ...uint64) *rand.Rand {
	s := mix(seed, labels...)
	return rand.New(rand.NewPCG(s, splitmix(s)))
}

// pick returns a uniformly chosen element of xs.
func pick[T any](r *rand.Rand, xs []T) T {
	return xs[r.IntN(len(xs))]
}

// weighted is a choice with a relative weight.
type weighted[T any] struct {
	w int
	v T
}

// pickWeighted chooses among ws proportionally to their weights.
func pickWeighted[T any](r *rand.Rand, ws []weighted[T]) T {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	n := r.IntN(total)
	for _, w := range ws {
		if n < w.w {
			return w.v
		}
		n -= w.w
	}
	return ws[len(ws)-1].v
}

// poisson draws from a Poisson distribution with mean lambda (Knuth for
// small means, a rounded normal approximation for large ones).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		n := int(math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64()))
		return max(n, 0)
	}
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// logNormal draws a positive value whose median is median and whose spread
// (in natural-log units) is sigma: the usual shape of byte counts and
// durations in network logs.
func logNormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// randHex returns n random lowercase hex digits.
func randHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[r.IntN(16)]
	}
	return string(b)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// zeekUID returns a Zeek connection uid: "C" and 17 base62 characters.
func zeekUID(r *rand.Rand) string {
	b := make([]byte, 18)
	b[0] = 'C'
	for i := 1; i < len(b); i++ {
		b[i] = base62[r.IntN(len(base62))]
	}
	return string(b)
}

// fileUID returns a Zeek file id: "F" and 17 base62 characters.
func fileUID(r *rand.Rand) string {
	u := []byte(zeekUID(r))
	u[0] = 'F'
	return string(u)
}

// guid returns a braced upper-case GUID as Windows prints it.
func guid(r *rand.Rand) string {
	const upper = "0123456789ABCDEF"
	b := []byte("{00000000-0000-0000-0000-000000000000}")
	for i := 1; i < len(b)-1; i++ {
		if b[i] != '-' {
			b[i] = upper[r.IntN(16)]
		}
	}
	return string(b)
}

// sysmonGUID returns a Sysmon ProcessGuid. Sysmon's GUIDs are lower case
// and share their first group (derived from the machine) on one host.
func sysmonGUID(r *rand.Rand, hostPart string) string {
	return "{" + hostPart + "-" + randHex(r, 4) + "-" + randHex(r, 4) + "-" + randHex(r, 4) + "-" + randHex(r, 12) + "}"
}

// digest is the set of hashes Sysmon and threat intel use for one file.
// Hashes are derived from a name so that the same binary has the same hash
// on every host, as a real deployed binary does.
type digest struct {
	MD5, SHA1, SHA256, Imphash string
}

func digestOf(name string) digest {
	m := md5.Sum([]byte("md5:" + name))
	s1 := sha1.Sum([]byte("sha1:" + name))
	s := sha256.Sum256([]byte("sha256:" + name))
	i := md5.Sum([]byte("imphash:" + name))
	return digest{
		MD5:     hex.EncodeToString(m[:]),
		SHA1:    hex.EncodeToString(s1[:]),
		SHA256:  hex.EncodeToString(s[:]),
		Imphash: hex.EncodeToString(i[:]),
	}
}

// addrIn returns the address at offset n (modulo the prefix size) inside p.
func addrIn(p netip.Prefix, n uint64) netip.Addr {
	a := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	if hostBits > 0 {
		size := uint64(1) << hostBits
		off := n % size
		// Avoid the network and broadcast addresses of the block.
		if off == 0 {
			off = 1
		}
		if off == size-1 {
			off = size - 2
		}
		v += uint32(off)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
