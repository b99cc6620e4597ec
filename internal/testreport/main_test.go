package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestReportPrintsSkipsWithReasonsAndFailures(t *testing.T) {
	in := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: needs PostgreSQL at 127.0.0.1:5432\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestA","Elapsed":0}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: quiet when passing\n"}
{"Action":"pass","Package":"p","Test":"TestB","Elapsed":0}
{"Action":"pass","Package":"p","Elapsed":1.5}
{"Action":"output","Package":"q","Test":"TestC","Output":"    c_test.go:7: got 1, want 2\n"}
{"Action":"fail","Package":"q","Test":"TestC","Elapsed":0}
{"Action":"fail","Package":"q","Elapsed":0.25}
{"Action":"skip","Package":"r","Elapsed":0}
`
	var out bytes.Buffer
	failed, err := report(strings.NewReader(in), &out)
	if err != nil || !failed {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	want := "ok  \tp\t1.500s\n" +
		"    skip TestA: a_test.go:9: needs PostgreSQL at 127.0.0.1:5432\n" +
		"    c_test.go:7: got 1, want 2\n" +
		"FAIL\tq\t0.250s\n" +
		"?   \tr\t[no test files]\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
