package ml

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"time"
)

// Family is a domain generation algorithm re-implemented from public
// descriptions of the malware, used to train and evaluate the DGA model.
// The generators reproduce each family's structure — seeding, alphabet,
// label lengths, word lists, suffixes — closely enough for training; they
// are not certified to produce the malware's exact domain lists.
type Family struct {
	Name string
	// Source is the public description the generator follows.
	Source string
	// Generate returns n names for the day t.
	Generate func(t time.Time, n int) []string
	// Dictionary families build names from English words; lexical
	// features cannot tell them from benign names well.
	Dictionary bool
}

// Public descriptions the generators follow.
const (
	srcDGArchive = "Plohmann et al., A Comprehensive Measurement Study of Domain Generating Malware, USENIX Security 2016 (DGArchive)"
	srcBader     = "J. Bader, DGA write-ups at johannesbader.ch and github.com/baderj/domain_generation_algorithms"
)

// Families lists the implemented DGA families, in a fixed order.
func Families() []Family {
	return []Family{
		{"conficker", "P. Porras, H. Saidi, V. Yegneswaran, An Analysis of Conficker's Logic and Rendezvous Points, SRI International 2009; " + srcDGArchive, conficker, false},
		{"cryptolocker", srcBader + " (CryptoLocker); " + srcDGArchive, cryptolocker, false},
		{"necurs", srcBader + " (Necurs); " + srcDGArchive, necurs, false},
		{"ramnit", srcBader + " (Ramnit); " + srcDGArchive, ramnit, false},
		{"banjori", srcBader + " (Banjori); " + srcDGArchive, banjori, false},
		{"suppobox", srcBader + " (Suppobox, two-word DGA); " + srcDGArchive, suppobox, true},
		{"matsnu", "Check Point, Matsnu technical report, 2015; " + srcDGArchive, matsnu, true},
		{"simda", srcBader + " (Simda); " + srcDGArchive, simda, false},
		{"dyre", srcBader + " (Dyre); " + srcDGArchive, dyre, false},
		{"kraken", "Damballa / Amada analyses of the Kraken botnet, 2008; " + srcDGArchive, kraken, false},
		{"murofet", srcBader + " (Murofet / Zeus GameOver predecessor); " + srcDGArchive, murofet, false},
		{"qakbot", srcBader + " (Qakbot); " + srcDGArchive, qakbot, false},
		{"corebot", srcBader + " (Corebot); " + srcDGArchive, corebot, false},
		{"pykspa", srcBader + " (Pykspa); " + srcDGArchive, pykspa, false},
	}
}

// familyRand is a generator for a family and day, for families whose
// own arithmetic is not reproduced.
func familyRand(name string, t time.Time, salt uint64) *rand.Rand {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	d := uint64(t.Year())<<16 | uint64(t.Month())<<8 | uint64(t.Day())
	return rand.New(rand.NewPCG(h^d, salt+d))
}

func letters(r *rand.Rand, n int, set string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return string(b)
}

const lowerLetters = "abcdefghijklmnopqrstuvwxyz"

// conficker: Conficker.C draws 50,000 names a day from a date-seeded
// generator: 4 to 9 random letters under one of 110 country and generic
// suffixes.
func conficker(t time.Time, n int) []string {
	tlds := []string{"com", "net", "org", "info", "biz", "ws", "cn", "de", "ru", "jp", "kr", "fr", "it", "nl", "pl", "es", "ch", "at", "be", "cz", "dk", "se", "no", "fi", "hu", "ro", "tw", "hk", "sg", "in", "br", "ar", "cl", "mx", "co.uk", "com.au", "ca", "us"}
	r := familyRand("conficker", t, 1)
	out := make([]string, n)
	for i := range out {
		out[i] = letters(r, 4+r.IntN(6), lowerLetters) + "." + tlds[r.IntN(len(tlds))]
	}
	return out
}

// cryptolocker: three shift-and-xor registers seeded with the date; each
// character is (year ^ month ^ day) mod 25 over a..y, 12 to 15 characters,
// seven suffixes.
func cryptolocker(t time.Time, n int) []string {
	tlds := []string{"com", "net", "biz", "ru", "org", "co.uk", "info"}
	out := make([]string, n)
	for i := range out {
		year, month, day := uint32(t.Year())+uint32(i)<<7, uint32(t.Month()), uint32(t.Day())+uint32(i)
		length := 12 + int((year^month^day)%4)
		b := make([]byte, 0, 16)
		for len(b) < length {
			year = ((year ^ 8*year) >> 11) ^ ((year & 0xFFFFFFF0) << 17)
			month = ((month ^ 4*month) >> 25) ^ 16*(month&0xFFFFFFF8)
			day = ((day ^ (day << 13)) >> 19) ^ ((day & 0xFFFFFFFE) << 12)
			b = append(b, byte((year^month^day)%25)+'a')
		}
		out[i] = string(b) + "." + tlds[i%len(tlds)]
	}
	return out
}

// necursMix is Necurs' 64-bit mixing step, run a data-dependent number
// of rounds.
func necursMix(v uint64) uint64 {
	loops := int(v&0x7F) + 21
	for i := 0; i < loops; i++ {
		v += ((v * 7) ^ (v << 15)) + 8*uint64(i) - (v >> 5)
	}
	return v
}

// necurs: the date, a sequence number and the domain index run through
// the mixing function; 7 to 21 letters a..y, one of 43 suffixes.
func necurs(t time.Time, n int) []string {
	tlds := []string{"tj", "in", "jp", "tw", "ac", "cm", "la", "mn", "so", "sh", "sc", "nu", "nf", "mu", "ms", "mx", "ki", "im", "cx", "cc", "tv", "bz", "me", "eu", "de", "ru", "co", "su", "pw", "kz", "sx", "us", "ug", "ir", "to", "ga", "com", "net", "org", "biz", "xxx", "pro", "bit"}
	out := make([]string, n)
	for i := range out {
		v := necursMix(uint64(t.Year()))
		v = necursMix(v + uint64(t.Month()) + 43690)
		v = necursMix(v + uint64(t.Day()>>2))
		v = necursMix(v + 7)
		v = necursMix(v + uint64(i))
		length := int(v%15) + 7
		b := make([]byte, length)
		for j := range b {
			v = necursMix(v + uint64(j))
			b[j] = byte(v%25) + 'a'
			v = necursMix(v + 0xABBEDF)
		}
		out[i] = string(b) + "." + tlds[v%uint64(len(tlds))]
	}
	return out
}

// ramnit: a Park–Miller style generator (16807, Schrage's decomposition)
// from a per-sample seed; 8 to 19 letters, ".com".
func ramnit(t time.Time, n int) []string {
	seed := uint32(0x4F2A1C3D) ^ uint32(t.YearDay())
	next := func(mod uint32) uint32 {
		ix := seed
		ix = 16807*(ix%127773) - 2836*(ix/127773)
		seed = ix
		return ix % mod
	}
	out := make([]string, n)
	for i := range out {
		a := seed
		length := int(next(12)) + 8
		b := seed
		buf := make([]byte, length)
		for j := range buf {
			buf[j] = byte(next(25)) + 'a'
		}
		out[i] = string(buf) + ".com"
		m := uint64(a) * uint64(b)
		seed = uint32((m + m>>32) % (1 << 32))
	}
	return out
}

// banjori: each name rewrites the first four letters of the previous one
// from a long seed name, leaving the rest — a dictionary-looking tail.
func banjori(t time.Time, n int) []string {
	seeds := []string{"earnestnessbiophysicalohax", "anbfanpandarusbrixtonsowb", "andersensinaix", "kwtoestnessbiophysicalohax", "ilmmestnessbiophysicalohax"}
	d := []byte(seeds[t.YearDay()%len(seeds)])
	wrap := func(c int) byte { return byte('a' + ((c-'a')%26+26)%26) }
	out := make([]string, n)
	for i := range out {
		d[0] = wrap(int(d[0]) + int(d[3]))
		d[1] = wrap(int(d[0]) + 2*int(d[1]))
		d[2] = wrap(int(d[0]) + int(d[2]) - 1)
		d[3] = wrap(int(d[1]) + int(d[2]) + int(d[3]))
		out[i] = string(d) + ".com"
	}
	return out
}

// suppoboxWords is a two-word DGA's dictionary: common English words as
// the Suppobox samples carry (the list here is xsoc's own).
var suppoboxWords = []string{
	"able", "about", "above", "accept", "across", "action", "address", "afraid", "after", "again", "against",
	"airplane", "allow", "almost", "alone", "along", "already", "always", "amount", "animal", "answer", "anyone",
	"appear", "apple", "around", "arrive", "attack", "autumn", "balance", "basket", "battle", "beauty", "became",
	"because", "become", "before", "begin", "behind", "believe", "below", "beside", "better", "between", "bottle",
	"bottom", "branch", "bread", "break", "bright", "bring", "broken", "brother", "brown", "build", "business",
	"butter", "camera", "cannot", "captain", "careful", "carry", "catch", "cattle", "center", "certain", "chance",
	"change", "charge", "cheese", "chicken", "child", "choose", "church", "circle", "clean", "clear", "climb",
	"clock", "close", "cloud", "coast", "collect", "color", "common", "company", "complete", "corner", "cotton",
	"country", "course", "cover", "crowd", "dance", "danger", "daughter", "decide", "degree", "depend", "desert",
	"design", "develop", "different", "dinner", "direct", "distant", "divide", "doctor", "double", "dream", "dress",
	"drink", "early", "earth", "effect", "eight", "either", "electric", "energy", "engine", "enough", "equal",
	"evening", "every", "example", "except", "expect", "experience", "explain", "family", "famous", "farmer",
	"father", "feather", "field", "figure", "finger", "finish", "flower", "follow", "forest", "forward", "friend",
	"front", "fruit", "garden", "gather", "general", "gentle", "glass", "govern", "grass", "great", "green", "ground",
	"group", "guess", "happen", "happy", "heard", "heart", "heavy", "history", "horse", "house", "hunger", "hurry",
	"island", "jungle", "kitchen", "knowledge", "language", "laugh", "leather", "letter", "listen", "little",
	"market", "master", "matter", "measure", "middle", "minute", "modern", "moment", "money", "morning", "mother",
	"mountain", "music", "nation", "nature", "neighbor", "night", "notice", "number", "object", "ocean", "office",
	"orange", "order", "other", "paper", "party", "people", "picture", "planet", "plant", "pleasant", "pocket",
	"police", "position", "power", "present", "pretty", "problem", "process", "produce", "public", "question",
	"quiet", "rather", "reason", "record", "remember", "result", "river", "saddle", "school", "science", "season",
	"second", "settle", "shadow", "shoulder", "silver", "simple", "sister", "smell", "soldier", "spring", "square",
	"station", "still", "stone", "story", "strange", "stream", "street", "strong", "student", "subject", "sudden",
	"summer", "supply", "surface", "teacher", "thought", "thousand", "through", "together", "travel", "trouble",
	"valley", "village", "visit", "water", "weather", "whether", "window", "winter", "wonder", "yellow", "young",
}

// suppobox: two dictionary words concatenated, ".net" (some samples
// ".ru"), picked by a time-seeded generator.
func suppobox(t time.Time, n int) []string {
	r := familyRand("suppobox", t, 2)
	out := make([]string, n)
	for i := range out {
		tld := "net"
		if r.IntN(5) == 0 {
			tld = "ru"
		}
		out[i] = suppoboxWords[r.IntN(len(suppoboxWords))] + suppoboxWords[r.IntN(len(suppoboxWords))] + "." + tld
	}
	return out
}

// matsnuVerbs and matsnuNouns are a verb–noun DGA's dictionaries (xsoc's
// own lists in the style Matsnu uses).
var (
	matsnuVerbs = []string{"accept", "add", "allow", "ask", "become", "begin", "believe", "bring", "build", "buy",
		"call", "change", "choose", "come", "consider", "continue", "create", "decide", "describe", "develop", "die",
		"draw", "drive", "eat", "expect", "explain", "fall", "feel", "fill", "find", "follow", "give", "grow", "happen",
		"hear", "help", "hold", "include", "keep", "kill", "know", "lead", "learn", "leave", "like", "live", "look",
		"lose", "love", "make", "meet", "move", "need", "offer", "open", "pay", "play", "provide", "pull", "put",
		"reach", "read", "realize", "receive", "remain", "remember", "report", "require", "return", "run", "say",
		"see", "seem", "sell", "send", "serve", "set", "show", "sit", "speak", "spend", "stand", "start", "stay",
		"stop", "suggest", "take", "talk", "teach", "tell", "think", "try", "turn", "understand", "wait", "walk",
		"want", "watch", "win", "wish", "work", "write"}
	matsnuNouns = []string{"account", "age", "air", "answer", "area", "arm", "art", "baby", "back", "ball", "bank",
		"bed", "bill", "bird", "block", "blood", "board", "body", "book", "box", "boy", "car", "card", "case", "cat",
		"cell", "chair", "child", "city", "class", "coat", "college", "community", "computer", "country", "course",
		"court", "cup", "data", "day", "death", "deal", "door", "dog", "dream", "energy", "eye", "face", "fact", "field",
		"film", "fire", "fish", "floor", "food", "friend", "game", "garden", "girl", "glass", "government", "group",
		"hair", "hand", "head", "health", "heart", "history", "home", "hospital", "hotel", "house", "idea", "island",
		"job", "kid", "kind", "king", "lake", "land", "law", "letter", "level", "life", "light", "line", "list", "lot",
		"man", "market", "matter", "meal", "media", "member", "mind", "minute", "moment", "money", "month", "morning",
		"mother", "music", "name", "nation", "news", "night", "office", "oil", "paper", "party", "people", "phone",
		"picture", "piece", "place", "plan", "plant", "player", "point", "police", "power", "price", "problem",
		"program", "question", "rate", "reason", "record", "report", "research", "result", "road", "room", "rule",
		"school", "science", "sea", "season", "side", "sign", "site", "skin", "song", "sound", "space", "sport",
		"state", "story", "street", "student", "study", "system", "table", "teacher", "team", "thing", "time", "town",
		"tree", "truth", "unit", "view", "voice", "wall", "water", "way", "week", "wife", "window", "woman", "word",
		"world", "year"}
)

// matsnu: verbs and nouns concatenated, sometimes hyphenated, until the
// label is at least 24 characters; ".com".
func matsnu(t time.Time, n int) []string {
	r := familyRand("matsnu", t, 3)
	out := make([]string, n)
	for i := range out {
		var b []byte
		hyphen := r.IntN(3) == 0
		for k := 0; len(b) < 24; k++ {
			if k > 0 && hyphen {
				b = append(b, '-')
			}
			if k%2 == 0 {
				b = append(b, matsnuVerbs[r.IntN(len(matsnuVerbs))]...)
			} else {
				b = append(b, matsnuNouns[r.IntN(len(matsnuNouns))]...)
			}
		}
		out[i] = string(b) + ".com"
	}
	return out
}

// simda: pronounceable names alternating a consonant and a vowel from
// fixed sets, 7 to 11 characters; a few suffixes.
func simda(t time.Time, n int) []string {
	const consonants, vowels = "qwrtpsdfghjklzxcvbnm", "eyuioa"
	tlds := []string{"com", "net", "info", "eu", "biz"}
	r := familyRand("simda", t, 4)
	out := make([]string, n)
	for i := range out {
		length := 7 + r.IntN(5)
		b := make([]byte, length)
		for j := range b {
			if j%2 == 0 {
				b[j] = consonants[r.IntN(len(consonants))]
			} else {
				b[j] = vowels[r.IntN(len(vowels))]
			}
		}
		out[i] = string(b) + "." + tlds[r.IntN(len(tlds))]
	}
	return out
}

// dyre: SHA-256 of the date and an index, rendered in hex; a letter and
// 32 hex digits, one of a few country suffixes.
func dyre(t time.Time, n int) []string {
	tlds := []string{"cc", "ws", "to", "in", "hk", "cn", "tk", "so"}
	out := make([]string, n)
	for i := range out {
		sum := sha256.Sum256([]byte(t.Format("2006-01-02") + strconv.Itoa(i)))
		h := hex.EncodeToString(sum[:])
		out[i] = string(rune('a'+sum[0]%26)) + h[:32] + "." + tlds[i%len(tlds)]
	}
	return out
}

// kraken: 6 to 11 random letters under dynamic-DNS zones (whose names are
// public suffixes, so the random label is the registrable one).
func kraken(t time.Time, n int) []string {
	zones := []string{"dyndns.org", "no-ip.org", "hopto.org", "homeip.net", "dnsalias.com", "com"}
	r := familyRand("kraken", t, 5)
	out := make([]string, n)
	for i := range out {
		out[i] = letters(r, 6+r.IntN(6), lowerLetters) + "." + zones[r.IntN(len(zones))]
	}
	return out
}

// murofet: MD5 of the date bytes and an index; each digest byte folds
// into a letter, 16 characters and longer, several suffixes.
func murofet(t time.Time, n int) []string {
	tlds := []string{"biz", "info", "org", "net", "com"}
	out := make([]string, n)
	for i := range out {
		sum := md5.Sum([]byte{byte(t.Year()), byte(t.Year() >> 8), byte(t.Month()), byte(t.Day()), byte(i), byte(i >> 8)})
		b := make([]byte, 0, 32)
		for _, c := range sum {
			b = append(b, 'a'+(c&0x1F)%26)
			if c>>5 > 4 {
				b = append(b, 'a'+(c>>3)%26)
			}
		}
		out[i] = string(b) + "." + tlds[i%len(tlds)]
	}
	return out
}

// qakbot: 8 to 25 random letters from a date-seeded generator; five
// generic suffixes.
func qakbot(t time.Time, n int) []string {
	tlds := []string{"com", "net", "org", "info", "biz"}
	r := familyRand("qakbot", t, 6)
	out := make([]string, n)
	for i := range out {
		out[i] = letters(r, 8+r.IntN(18), lowerLetters) + "." + tlds[r.IntN(len(tlds))]
	}
	return out
}

// corebot: letters and digits, 12 to 23 characters, under ddns.net (a
// public suffix).
func corebot(t time.Time, n int) []string {
	const set = "abcdefghijklmnopqrstuvwxyz0123456789"
	r := familyRand("corebot", t, 7)
	out := make([]string, n)
	for i := range out {
		out[i] = letters(r, 12+r.IntN(12), set) + ".ddns.net"
	}
	return out
}

// pykspa: 6 to 15 letters from a seeded generator, with a bias towards
// the letters of its own seed string; a few suffixes.
func pykspa(t time.Time, n int) []string {
	tlds := []string{"com", "net", "org", "info", "cc"}
	r := familyRand("pykspa", t, 8)
	out := make([]string, n)
	for i := range out {
		out[i] = letters(r, 6+r.IntN(10), "abcdefghijklmnopqrstuvwxyzaeiou") + "." + tlds[r.IntN(len(tlds))]
	}
	return out
}
