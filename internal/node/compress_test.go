package node

import "testing"

func TestCompressIngest(t *testing.T) {
	tests := []struct {
		setting  string
		embedded bool
		want     bool
	}{
		{"", true, true},
		{"", false, false},
		{"s2", false, true},
		{"s2", true, true},
		{"none", true, false},
		{"none", false, false},
	}
	for _, tt := range tests {
		if got := compressIngest(tt.setting, tt.embedded); got != tt.want {
			t.Errorf("compressIngest(%q, embedded %v) = %v, want %v", tt.setting, tt.embedded, got, tt.want)
		}
	}
}
