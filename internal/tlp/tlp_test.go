package tlp

import "testing"

func TestMayReceiveEveryLevelAndRelation(t *testing.T) {
	// want[level][relation]
	want := map[Level][5]bool{
		//            self  named client community public
		Clear:       {true, true, true, true, true},
		Green:       {true, true, true, true, false},
		Amber:       {true, true, true, false, false},
		AmberStrict: {true, true, false, false, false},
		Red:         {true, true, false, false, false},
	}
	for l, row := range want {
		for r := Self; r <= Public; r++ {
			if got := MayReceive(l, r); got != row[r] {
				t.Errorf("MayReceive(%v, %v) = %v, want %v", l, r, got, row[r])
			}
		}
	}
}

func TestRelationTo(t *testing.T) {
	tests := []struct {
		rec   Recipient
		owner string
		named []string
		want  Relation
	}{
		{Recipient{Member: "a"}, "a", nil, Self},
		{Recipient{Member: "b"}, "a", []string{"c", "b"}, Named},
		{Recipient{Member: "b", ClientOf: []string{"a"}}, "a", nil, Client},
		{Recipient{Member: "b", ClientOf: []string{"x"}}, "a", nil, Community},
	}
	for _, tt := range tests {
		if got := tt.rec.RelationTo(tt.owner, tt.named); got != tt.want {
			t.Errorf("%+v.RelationTo(%q, %v) = %v, want %v", tt.rec, tt.owner, tt.named, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Level
		ok   bool
	}{
		{"TLP:CLEAR", Clear, true}, {"tlp:white", Clear, true}, {"green", Green, true},
		{"TLP:AMBER", Amber, true}, {"tlp:amber+strict", AmberStrict, true}, {"AMBER_STRICT", AmberStrict, true},
		{"TLP:RED", Red, true}, {"purple", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok {
			back, err := Parse(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %v failed: %v %v", got, back, err)
			}
		}
	}
}
