package stix

import (
	"strings"
	"testing"
)

// bundle20 is a STIX 2.0 bundle made of the STIX 2.0 specification's own
// examples (Part 1 and Part 2: identity, indicator, malware, relationship,
// observed data with its objects dictionary, report, TLP marking, tool,
// threat actor), with second-precision times where 2.0 allowed them.
const bundle20 = `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","spec_version":"2.0","objects":[
{"type":"identity","id":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T20:03:00.000Z","modified":"2016-04-06T20:03:00.000Z","name":"ACME Corp, Inc.","identity_class":"organization"},
{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T20:03:48Z","modified":"2016-04-06T20:03:48Z","labels":["malicious-activity"],"name":"Poison Ivy Malware","description":"This file is part of Poison Ivy","pattern":"[ file:hashes.'SHA-256' = '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877' ]","valid_from":"2016-01-01T00:00:00Z","object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]},
{"type":"malware","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","name":"Poison Ivy","labels":["remote-access-trojan"]},
{"type":"relationship","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad","created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"indicates","source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"},
{"type":"observed-data","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z","first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":50,"objects":{"0":{"type":"file","hashes":{"SHA-256":"0969de02ecf8a5f003e3f6d063d848c8a193aada092623f8ce408c15bcb5f038"}}}},
{"type":"report","id":"report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2015-12-21T19:59:11.000Z","modified":"2015-12-21T19:59:11.000Z","name":"The Black Vine Cyberespionage Group","description":"A simple report with an indicator and campaign","published":"2016-01-20T17:00:00Z","labels":["campaign"],"object_refs":["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]},
{"type":"marking-definition","id":"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"amber"}},
{"type":"tool","id":"tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","labels":["remote-access"],"name":"VNC"},
{"type":"threat-actor","id":"threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","labels":["crime-syndicate"],"name":"Evil Org","description":"The Evil Org threat actor group"}
]}`

// TestSTIX20BundleIsConverted: every object of a STIX 2.0 bundle decodes
// as a valid STIX 2.1 object, each with the 2.1 form of what changed.
func TestSTIX20BundleIsConverted(t *testing.T) {
	b, errs := DecodeBundle([]byte(bundle20))
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(b.Objects) != 9 || len(b.Converted) != 9 {
		t.Fatalf("%d objects, %d converted", len(b.Objects), len(b.Converted))
	}
	if _, has := b.extra["spec_version"]; has {
		t.Error("the converted bundle keeps spec_version 2.0")
	}
	byType := map[string]Object{}
	for _, o := range b.Objects {
		if err := Validate(o); err != nil {
			t.Errorf("%s: %v", o.ID(), err)
		}
		if o.String("spec_version") != "2.1" {
			t.Errorf("%s: spec_version %q", o.ID(), o.String("spec_version"))
		}
		byType[o.Type()] = o
	}
	checks := []struct {
		typ, prop, want string
	}{
		{"indicator", "indicator_types", "malicious-activity"},
		{"indicator", "pattern_type", "stix"},
		{"indicator", "pattern_version", "2.0"},
		{"indicator", "created", "2016-04-06T20:03:48.000Z"},
		{"malware", "malware_types", "remote-access-trojan"},
		{"malware", "is_family", "true"},
		{"report", "report_types", "campaign"},
		{"tool", "tool_types", "remote-access"},
		{"threat-actor", "threat_actor_types", "crime-syndicate"},
		{"identity", "identity_class", "organization"},
	}
	for _, c := range checks {
		o := byType[c.typ]
		var got string
		switch v, _ := o.Get(c.prop); v := v.(type) {
		case []any:
			got = v[0].(string)
		case bool:
			got = map[bool]string{true: "true", false: "false"}[v]
		case string:
			got = v
		}
		if got != c.want {
			t.Errorf("%s.%s = %q, want %q", c.typ, c.prop, got, c.want)
		}
		if c.prop != "identity_class" && c.prop != "created" && o.Has("labels") {
			t.Errorf("%s keeps its 2.0 labels", c.typ)
		}
	}
	if l, ok := TLPOf(byType["indicator"]); !ok || l.String() != "TLP:AMBER" {
		t.Errorf("indicator TLP %v %v", l, ok)
	}
}

// TestUpgrade20LeavesOthersAlone: STIX 2.1 objects (with spec_version, or
// cyber observables with neither spec_version nor created) are not
// touched; an object that says spec_version 2.0 is converted.
func TestUpgrade20LeavesOthersAlone(t *testing.T) {
	tests := []struct {
		raw       string
		converted bool
	}{
		{`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z"}`, false},
		{`{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`, false},
		{`{"type":"identity","spec_version":"2.0","id":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T20:03:00.000Z","modified":"2016-04-06T20:03:00.000Z","name":"ACME","identity_class":"organization"}`, true},
		{`not json`, false},
	}
	for _, tt := range tests {
		out, ok, err := Upgrade20([]byte(tt.raw))
		if ok != tt.converted || err != nil {
			t.Errorf("%s: converted %v, %v", tt.raw, ok, err)
		}
		if !ok && string(out) != tt.raw {
			t.Errorf("%s changed to %s", tt.raw, out)
		}
		if ok && !strings.Contains(string(out), `"spec_version":"2.1"`) {
			t.Errorf("%s: %s", tt.raw, out)
		}
	}
}
