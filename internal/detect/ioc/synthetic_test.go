package ioc

import "testing"

// TestAddSynthetic: the benchmarks' indicators are all stored, each kind
// is matched by its own value, and ordinary values match none of them.
func TestAddSynthetic(t *testing.T) {
	x := New(Options{})
	if err := AddSynthetic(x, 3000); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 3000 {
		t.Fatalf("%d indicators stored, want 3000", x.Len())
	}
	tests := []struct {
		q    Query
		want int
	}{
		{Query{KindDomain, "bad1.example"}, 1},
		{Query{KindIP, "198.18.0.2"}, 1},
		{Query{KindDomain, "example.com"}, 0},
		{Query{KindIP, "8.8.8.8"}, 0},
		{Query{KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, 0},
	}
	for _, tt := range tests {
		if got := x.CountFor("anyone", []Query{tt.q}); got != tt.want {
			t.Errorf("%v: %d matches, want %d", tt.q, got, tt.want)
		}
	}
}
