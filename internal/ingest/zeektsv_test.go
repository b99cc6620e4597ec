package ingest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xsoc/xsoc/internal/event"
	"github.com/xsoc/xsoc/internal/ingest/format"
)

// zeekConnLog and zeekDNSLog are logs in Zeek's default TSV format, as
// Zeek 3.x-6.x write conn.log and dns.log (the examples of Zeek's
// documentation, "Zeek logs"): the header, data lines with unset ("-")
// and set/vector fields, and #close.
const zeekConnLog = "#separator \\x09\n" +
	"#set_separator\t,\n" +
	"#empty_field\t(empty)\n" +
	"#unset_field\t-\n" +
	"#path\tconn\n" +
	"#open\t2020-09-23-15-29-34\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n" +
	"1600874974.429740\tCzCz6S2z2DXPfhyH4j\t192.168.4.76\t46378\t31.3.245.133\t80\ttcp\thttp\t0.254291\t77\t295\tSF\t-\t-\t0\tShADadfF\t6\t397\t4\t511\t(empty)\n" +
	"1600874975.142434\tCfIu2b1P4Rm1P1ND5\t192.168.4.76\t36844\t192.168.4.1\t53\tudp\tdns\t0.014172\t31\t47\tSF\tT\tT\t0\tDd\t1\t59\t1\t75\t-\n" +
	"#close\t2020-09-23-15-29-34\n"

const zeekDNSLog = "#separator \\x09\n" +
	"#set_separator\t,\n" +
	"#empty_field\t(empty)\n" +
	"#unset_field\t-\n" +
	"#path\tdns\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n" +
	"1600874975.142434\tCfIu2b1P4Rm1P1ND5\t192.168.4.76\t36844\t192.168.4.1\t53\tudp\t17122\t0.014172\ttestmyids.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t31.3.245.133,31.3.245.134\t3600.000000,3600.000000\tF\n" +
	"1600874976.000000\tCx\t192.168.4.76\t36845\t192.168.4.1\t53\tudp\t17123\t-\tweird\\x09name.example\t1\tC_INTERNET\t1\tA\t3\tNXDOMAIN\tF\tF\tT\tT\t0\t-\t-\tF\n"

// TestZeekTSVIngest: Zeek TSV logs posted to the ingest endpoint (format
// auto or zeek, one log after another in one body) are stored as the
// JSON lines Zeek's JSON writer writes, which the Zeek format maps: times,
// addresses, ports, sets and vectors, \xHH escapes, unset fields left out.
// A data line whose field count does not match its header is refused
// with the reason.
func TestZeekTSVIngest(t *testing.T) {
	for _, query := range []string{"", "format=zeek"} {
		b := openBus(t, 0)
		h := NewHandler(NewAcceptor(b), func(*http.Request) (string, bool) { return "m1", true }, slog.Default(), Limits{})
		body := zeekConnLog + zeekDNSLog + "1600874977.0\ttoo\tfew\n"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/ingest?"+query, strings.NewReader(body)))
		var res Result
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != 200 {
			t.Fatalf("%q: %d %s", query, rec.Code, rec.Body)
		}
		if res.Accepted != 4 || res.Rejected != 1 || !strings.Contains(res.Errors[0].Reason, "zeek TSV line has 3 fields, its #fields header names 24") ||
			res.Errors[0].Line != 21 {
			t.Errorf("%q: %+v", query, res)
		}
		stored := storedLines(t, b)
		if len(stored) != 4 {
			t.Fatalf("%q: %d lines stored", query, len(stored))
		}
		want := []map[string]string{
			{"event.dataset": "zeek.conn", "source.ip": "192.168.4.76", "source.port": "46378", "destination.ip": "31.3.245.133",
				"destination.port": "80", "network.transport": "tcp", "zeek.conn.history": "ShADadfF", "zeek.conn.local_orig": "", "zeek.conn.tunnel_parents": ""},
			{"zeek.conn.local_orig": "true", "destination.port": "53"},
			{"event.dataset": "zeek.dns", "dns.question.name": "testmyids.com", "zeek.dns.AA": "false", "zeek.dns.rtt": "0.014172"},
			{"dns.question.name": "weird\tname.example", "zeek.dns.rtt": ""},
		}
		for i, line := range stored {
			var ev event.Event
			if err := format.Parse(format.Auto, []byte(line), &ev); err != nil {
				t.Fatalf("%q: line %d %s: %v", query, i, line, err)
			}
			for k, v := range want[i] {
				if got, _ := ev.Get(k); got != v {
					t.Errorf("%q: line %d: %s = %q, want %q (%s)", query, i, k, got, v, line)
				}
			}
			if ev.Time.IsZero() {
				t.Errorf("line %d has no time", i)
			}
		}
		var answers []string
		var ev event.Event
		format.Parse(format.Auto, []byte(stored[2]), &ev)
		ev.Each(event.RefOf("zeek.dns.answers"), func(v string) bool { answers = append(answers, v); return true })
		if strings.Join(answers, ",") != "31.3.245.133,31.3.245.134" {
			t.Errorf("answers %v (%s)", answers, stored[2])
		}
	}
}

// TestZeekTSVOnlyWithItsHeader: tab-separated lines are Zeek's only
// under a #fields header, and only for formats auto and zeek; syslog
// lines starting with '#' are not headers.
func TestZeekTSVOnlyWithItsHeader(t *testing.T) {
	h := NewHandler(nil, nil, slog.Default(), Limits{})
	var res Result
	runs, err := splitBody(h, []byte("1600874974.4\tC\t192.168.4.76\n"), format.Auto, &res)
	if err != nil || len(runs) != 0 || res.Rejected != 1 {
		t.Errorf("headerless TSV: %v %+v", err, res)
	}
	res = Result{}
	runs, err = splitBody(h, []byte(zeekConnLog), format.Syslog, &res)
	if err != nil || res.Accepted != 0 {
		t.Errorf("Zeek TSV as syslog: %v %+v %d runs", err, res, len(runs))
	}
	res = Result{}
	runs, err = splitBody(h, []byte(zeekConnLog+`{"_path":"dns","ts":1600874975.1,"query":"a.example"}`+"\n"), format.Auto, &res)
	if err != nil || res.Accepted != 3 || len(runs) != 2 || !bytes.HasPrefix(runs[1].data, []byte(`{"_path":"dns"`)) {
		t.Errorf("TSV then JSON: %v %+v %d runs", err, res, len(runs))
	}
}
