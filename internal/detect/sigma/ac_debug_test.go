package sigma

import (
	"testing"
)

func BenchmarkScanDebug(b *testing.B) {
	rules, errs := LoadDir(sharedDir(b)+"/sigma/rules/windows/process_creation", Options{})
	_ = errs
	rs, _ := Compile(rules, Options{})
	g := rs.groups[0]
	for i := range g.scans {
		sc := &g.scans[i]
		name := rs.slots[sc.slot].name
		if name != "CommandLine" && name != "Hashes" && name != "Image" {
			continue
		}
		v := `"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --field-trial-handle=12345 --lang=en-US --renderer-client-id=777`
		if name == "Hashes" {
			v = "sha1=0ae1f9071c5e8fe4a69d3f671937935d242d8a6c,md5=ccf1d1573f175299ade01c07791a6541,sha256=68a15a34c2e28b9b521a240b948634617d72ad619e3950bc6dc769e60a0c3cf2,imphash=e96a73c7bf33a464c510ede582318bf2"
		}
		if name == "Image" {
			v = `c:\program files\google\chrome\application\chrome.exe`
		}
		b.Run(name, func(b *testing.B) {
			x := rs.pool.Get().(*scratch)
			x.begin(nil)
			b.SetBytes(int64(len(v)))
			for i := 0; i < b.N; i++ {
				x.gen++
				rs.scanValue(x, sc, v, true)
			}
		})
	}
}

func TestScanOutputsDebug(t *testing.T) {
	rules, _ := LoadDir(sharedDir(t)+"/sigma/rules/windows/process_creation", Options{})
	rs, _ := Compile(rules, Options{})
	g := rs.groups[0]
	for i := range g.scans {
		sc := &g.scans[i]
		name := rs.slots[sc.slot].name
		if name != "CommandLine" && name != "Image" {
			continue
		}
		v := `"c:\program files\google\chrome\application\chrome.exe" --type=renderer --field-trial-handle=12345 --lang=en-us --renderer-client-id=777`
		if name == "Image" {
			v = `c:\program files\google\chrome\application\chrome.exe`
		}
		a := sc.ac
		st := uint32(0)
		nout, npo := 0, 0
		short := map[string]int{}
		for i := 0; i < len(v); i++ {
			d := a.step(st, a.class[v[i]])
			if st < a.ndense {
				d = a.dense[st*uint32(a.nclass)+uint32(a.class[v[i]])]
			}
			st = d >> 1
			if d&1 != 0 {
				for _, p := range a.outs[a.outStart[st]:a.outStart[st+1]] {
					nout++
					npo += len(sc.pats[p])
					short[v[i+1-int(a.lens[p]):i+1]] += len(sc.pats[p])
				}
			}
		}
		t.Logf("%s: %d bytes, %d outputs, %d pattern outs; %v", name, len(v), nout, npo, short)
	}
}
