package correlate

import "testing"

func TestCampaignTitle(t *testing.T) {
	dom := func(v string, countries, members int, first int64) keyEvidence {
		return keyEvidence{key: "obs|domain-name|" + v, countries: countries, members: members, first: first}
	}
	hash := keyEvidence{key: "obs|file:hashes.MD5|80feffd26b2aacbc95abc189d28068eb", countries: 3, members: 3}
	rule := keyEvidence{key: "tech|T1110.003|sigma/brute", countries: 2, members: 2}
	tests := []struct {
		name      string
		ev        []keyEvidence
		members   int
		countries []string
		want      string
	}{
		{"widest spread first, domains before hashes",
			[]keyEvidence{hash, dom("late.example", 3, 3, 9), dom("narrow.example", 2, 2, 0), dom("early.example", 3, 3, 1)},
			3, []string{"FR", "NL", "SE"},
			"Cross-border campaign: 4 shared indicators (early.example, late.example, …) at 3 members in FR, NL, SE"},
		{"one indicator", []keyEvidence{dom("c2.example", 2, 2, 0)}, 2, []string{"DE", "FR"},
			"Cross-border campaign: 1 shared indicator (c2.example) at 2 members in DE, FR"},
		{"indicators outrank detections", []keyEvidence{rule, dom("c2.example", 2, 2, 0)}, 2, []string{"DE", "FR"},
			"Cross-border campaign: 1 shared indicator (c2.example) at 2 members in DE, FR"},
		{"detections only", []keyEvidence{rule}, 2, []string{"DE", "FR"},
			"Cross-border campaign: 1 shared detection (T1110.003 by rule sigma/brute) at 2 members in DE, FR"},
		{"no evidence yet", nil, 0, nil, "Cross-border campaign"},
	}
	for _, tt := range tests {
		if got := campaignTitle(tt.ev, tt.members, tt.countries); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
