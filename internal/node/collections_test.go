package node

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/intel/taxii"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/tlp"
)

// TestCollectionManagementOverREST: an operator creates a TAXII collection
// and gives one member read and write rights over the REST API; that
// member lists it with its own rights and publishes to it over TAXII,
// another member neither lists nor reaches it, and the operator sees every
// member's rights. Bad requests answer with their reason.
func TestCollectionManagementOverREST(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, nodeConfig(t))
	_, frKey, err := n.Members.Add(ctx, member.Member{ID: "fr-cert", Name: "FR CERT", Country: "FR", Sector: "energy"})
	if err != nil {
		t.Fatal(err)
	}
	_, deKey, err := n.Members.Add(ctx, member.Member{ID: "de-bank", Name: "DE Bank", Country: "DE", Sector: "banking"})
	if err != nil {
		t.Fatal(err)
	}
	opKey, err := n.Members.CreateOperatorKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	call := func(key, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, n.URL()+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, created := call(opKey, "POST", "/api/v1/collections", `{"title":"Ransomware IOCs","default_tlp":"TLP:AMBER"}`)
	if code != 201 || created["default_tlp"] != "TLP:AMBER" {
		t.Fatalf("create: %d %v", code, created)
	}
	id := created["id"].(string)
	for _, bad := range []struct{ key, method, path, body string }{
		{frKey, "POST", "/api/v1/collections", `{"title":"mine"}`},
		{opKey, "POST", "/api/v1/collections", `{"title":""}`},
		{opKey, "POST", "/api/v1/collections", `{"title":"x","default_tlp":"purple"}`},
		{opKey, "PUT", "/api/v1/collections/" + id + "/rights/nobody", `{"read":true}`},
		{opKey, "PUT", "/api/v1/collections/" + SharedCollection[:8] + "/rights/fr-cert", `{"read":true}`},
	} {
		if code, out := call(bad.key, bad.method, bad.path, bad.body); code < 400 || out["error"] == nil {
			t.Errorf("%s %s %s: %d %v", bad.method, bad.path, bad.body, code, out)
		}
	}
	if code, out := call(opKey, "PUT", "/api/v1/collections/"+id+"/rights/fr-cert", `{"read":true,"write":true}`); code != 200 {
		t.Fatalf("rights: %d %v", code, out)
	}
	listed := func(key string) map[string]any {
		_, out := call(key, "GET", "/api/v1/collections", "")
		for _, c := range out["collections"].([]any) {
			if c := c.(map[string]any); c["id"] == id {
				return c
			}
		}
		return nil
	}
	if c := listed(frKey); c == nil || c["can_write"] != true || c["rights"] != nil {
		t.Errorf("fr-cert's view: %v", c)
	}
	if c := listed(deKey); c != nil {
		t.Errorf("de-bank lists %v", c)
	}
	if c := listed(opKey); c == nil || c["rights"].(map[string]any)["fr-cert"].(map[string]any)["write"] != true {
		t.Errorf("operator's view: %v", c)
	}

	ind, err := stix.NewIndicator(stix.IndicatorSpec{Name: "C2", Pattern: "[domain-name:value = 'locker.evil.example']",
		ValidFrom: time.Now().Add(-time.Hour), TLP: tlp.Amber})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(ind)
	fr, _ := taxii.NewClient(taxii.ClientConfig{APIRoot: n.URL() + "/taxii2/api/", Token: frKey})
	if st, err := fr.AddObjects(ctx, id, []json.RawMessage{raw}); err != nil || st.SuccessCount != 1 {
		t.Fatalf("fr-cert publishes: %+v %v", st, err)
	}
	de, _ := taxii.NewClient(taxii.ClientConfig{APIRoot: n.URL() + "/taxii2/api/", Token: deKey})
	if _, err := de.AddObjects(ctx, id, []json.RawMessage{raw}); err == nil {
		t.Error("de-bank publishes to a collection it has no rights on")
	}
}
