package intel

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/xsoc/xsoc/internal/store"
)

// SystemOwner owns the objects xsoc makes itself, such as the identities
// members' sightings name. No member id can take it (member ids are
// slugs), so no member may add versions of those objects.
const SystemOwner = ":xsoc"

// identityEpoch is the created and modified time of every identity xsoc
// makes: an identity never changes, so activity never versions it.
const identityEpoch = "2020-01-01T00:00:00.000Z"

// MemberIdentity returns the id of the STIX identity that speaks for
// member in what xsoc produces on its behalf (sightings), storing the
// identity in collection the first time. The identity is xsoc's own
// (SystemOwner), marked TLP:GREEN, and has one version forever, so that
// nobody learns a member's activity from it; no member may add versions
// of it, nor add objects that name it as their creator or as where
// something was sighted unless it is that member's (AddObjects). Its id is a UUIDv5-style
// digest keyed by a secret of the store, so that no member can predict
// another member's identity id and take it before xsoc makes it.
func (r *Repo) MemberIdentity(ctx context.Context, collection, member string) (string, error) {
	secret, err := r.secret(ctx)
	if err != nil {
		return "", err
	}
	id := keyedID("identity", secret, "member/"+member)
	coll, err := r.collection(ctx, collection)
	if err != nil {
		return "", err
	}
	ident, _ := json.Marshal(map[string]any{
		"type": "identity", "spec_version": "2.1", "id": id,
		"created": identityEpoch, "modified": identityEpoch,
		"name": member, "identity_class": "organization",
		// TLP:GREEN's marking definition (STIX 2.1, section 7.2.1.4).
		"object_marking_refs": []string{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"},
	})
	st, err := r.add(ctx, Viewer{Member: SystemOwner}, true, coll, []json.RawMessage{ident})
	if err != nil {
		return "", err
	}
	if len(st.Failures) > 0 {
		return "", fmt.Errorf("intel: identity of %s: %s", member, st.Failures[0].Message)
	}
	return id, nil
}

// secret returns the store's identity secret, making it on first use; of
// racing writers, the first one's stays.
func (r *Repo) secret(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	rand.Read(fresh)
	if _, err := r.db.Exec(ctx, `INSERT INTO intel_secret (id, value) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`,
		hex.EncodeToString(fresh)); err != nil {
		return nil, fmt.Errorf("intel: identity secret: %w", err)
	}
	var value string
	if err := r.db.QueryRow(ctx, `SELECT value FROM intel_secret WHERE id = 1`).Scan(&value); err != nil {
		if store.NotFound(err) {
			return nil, fmt.Errorf("intel: identity secret missing")
		}
		return nil, fmt.Errorf("intel: identity secret: %w", err)
	}
	return hex.DecodeString(value)
}

// keyedID is a STIX id of type typ whose UUID is HMAC-SHA256(secret,
// name) cut to 128 bits with the version 5 and variant bits set: stable
// for a name, unguessable without the secret.
func keyedID(typ string, secret []byte, name string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(name))
	u := mac.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return typ + "--" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
