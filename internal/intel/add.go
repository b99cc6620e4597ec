package intel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xsoc/xsoc/internal/intel/stix"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// Status reports what became of each object of one add request. The
// repository adds objects synchronously, so a returned Status is always
// complete; it is kept so that TAXII clients can fetch it again.
type Status struct {
	ID         string    `json:"id"`
	Collection string    `json:"collection"`
	Member     string    `json:"member"`
	Requested  time.Time `json:"requested"`
	// Successes and Failures hold one entry per object, in request order.
	Successes []StatusDetail `json:"successes,omitempty"`
	Failures  []StatusDetail `json:"failures,omitempty"`
}

// Total is the number of objects in the request.
func (s Status) Total() int { return len(s.Successes) + len(s.Failures) }

// StatusDetail is the outcome of one object.
type StatusDetail struct {
	// ID is the object's id ("" if it had none).
	ID string `json:"id"`
	// Version is the object's version (modified, else created); zero for
	// objects without one.
	Version time.Time `json:"version"`
	// Message says why the object failed, or notes something about a
	// success (such as a version that was already present).
	Message string `json:"message,omitempty"`
}

// parsed is one object of a request that passed the envelope and the
// validator.
type parsed struct {
	index int
	env   Envelope
	raw   json.RawMessage
	// raw20 is the STIX 2.0 form the object came in (nil for 2.1).
	raw20 json.RawMessage
}

// AddObjects adds objects to a collection on behalf of v, who becomes the
// owner of the objects it adds. Objects are owned per member: v may add
// versions of its own objects and of ids no object it may see carries,
// and is refused versions of another member's object it sees. An id that
// only other members' versions v may not see carry is answered exactly as
// an unknown id — v adds its own object under it — so that adding never
// tells whether another member holds an object (STIX cyber-observables
// have ids derived from their values). Each object is accepted or refused whole,
// with a reason in the returned Status; all accepted objects, and the
// Status itself, are committed in one transaction. The error is non-nil
// only when the request as a whole fails (unknown collection, no write
// right, store failure), and then nothing is stored.
func (r *Repo) AddObjects(ctx context.Context, v Viewer, collection string, objects []json.RawMessage) (Status, error) {
	if v.Member == "" {
		return Status{}, fmt.Errorf("intel: adding objects needs a member to own them: %w", ErrForbidden)
	}
	a, err := r.Collection(ctx, v, collection)
	if err != nil {
		return Status{}, err
	}
	if !a.CanWrite {
		return Status{}, fmt.Errorf("intel: collection %s is not writable by %q: %w", collection, v.Member, ErrForbidden)
	}
	return r.add(ctx, v, a.CanRead, a.Collection, objects)
}

// add stores objects in coll for v.Member, as AddObjects describes,
// without checking the right to write; canRead says whether v may read
// the collection (whether it sees any object in it).
func (r *Repo) add(ctx context.Context, v Viewer, canRead bool, coll Collection, objects []json.RawMessage) (Status, error) {
	collection := coll.ID
	st := Status{ID: NewUUID(), Collection: collection, Member: v.Member, Requested: r.opts.Now().UTC()}
	outcome := make([]StatusDetail, len(objects))
	failed := make([]bool, len(objects))
	var ok []parsed
	for i, raw := range objects {
		// STIX 2.0 objects (older feeds and servers still send them) are
		// stored as their STIX 2.1 form, and the form they came in is
		// kept beside it for clients that ask for STIX 2.0.
		orig := raw
		raw, converted, err := stix.Upgrade20(raw)
		if err != nil {
			outcome[i], failed[i] = StatusDetail{Message: err.Error()}, true
			continue
		}
		env, err := r.check(raw)
		if err != nil {
			outcome[i], failed[i] = StatusDetail{ID: env.ID, Version: env.Version(), Message: err.Error()}, true
			continue
		}
		outcome[i] = StatusDetail{ID: env.ID, Version: env.Version()}
		if converted {
			outcome[i].Message = MsgConverted
		}
		p := parsed{index: i, env: env, raw: compact(raw)}
		if converted {
			p.raw20 = compact(orig)
		}
		ok = append(ok, p)
	}
	if v.Member != SystemOwner {
		var err error
		if ok, err = r.speakingForSelf(ctx, v.Member, ok, outcome, failed); err != nil {
			return Status{}, fmt.Errorf("intel: add objects: %w", err)
		}
	}
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		clock, err := lockClock(ctx, tx)
		if err != nil {
			return err
		}
		held, err := holdersOf(ctx, tx, coll.ID, ok)
		if err != nil {
			return err
		}
		for _, p := range ok {
			msg, err := r.insert(ctx, tx, &clock, coll, v, canRead, held, p)
			if err != nil {
				return err
			}
			if msg != "" {
				outcome[p.index].Message = msg
			}
			failed[p.index] = msg != "" && msg != msgDuplicate
		}
		if err := clock.save(ctx, tx); err != nil {
			return err
		}
		for i := range outcome {
			if failed[i] {
				st.Failures = append(st.Failures, outcome[i])
			} else {
				st.Successes = append(st.Successes, outcome[i])
			}
		}
		return saveStatus(ctx, tx, st)
	})
	if err != nil {
		return Status{}, fmt.Errorf("intel: add objects: %w", err)
	}
	if len(ok) > 0 {
		r.notify()
	}
	return st, nil
}

// check parses the envelope and runs the validator. The envelope is
// returned even on error so the failure can name the object.
func (r *Repo) check(raw json.RawMessage) (Envelope, error) {
	env, err := ParseEnvelope(raw)
	if err != nil {
		// Name the object in the failure, with its version, as far as
		// they are readable.
		var named struct {
			ID       string `json:"id"`
			Created  string `json:"created"`
			Modified string `json:"modified"`
		}
		json.Unmarshal(raw, &named)
		env := Envelope{ID: named.ID}
		env.Created, _ = ParseTimestamp(named.Created)
		env.Modified, _ = ParseTimestamp(named.Modified)
		return env, err
	}
	if r.opts.Validate != nil {
		if err := r.opts.Validate(raw); err != nil {
			return env, err
		}
	}
	return env, nil
}

// MsgConverted notes a stored object that was sent as STIX 2.0.
const MsgConverted = "converted from STIX 2.0 to 2.1"

// Messages for objects that were not inserted.
const (
	msgDuplicate  = "version already present"
	msgOtherOwner = "object belongs to another member: only its originator may add versions"
	msgImpostor   = "names as its creator or where it was sighted the identity xsoc keeps for another member: a member speaks only for itself"
)

// speakingForSelf drops, with msgImpostor as their outcome, the objects
// that name as their creator (created_by_ref) or as where they were
// sighted (where_sighted_refs) an identity xsoc made for a member other
// than member: those identities are xsoc's word for who saw what, and a
// member's object pointing at another's would put words in its mouth.
// It drops with msgOtherOwner objects under the id of an identity xsoc
// made, in any collection: those ids are xsoc's alone. It returns the
// objects that remain.
func (r *Repo) speakingForSelf(ctx context.Context, member string, objs []parsed, outcome []StatusDetail, failed []bool) ([]parsed, error) {
	refs := map[int][]string{}
	var all []string
	for _, p := range objs {
		if p.env.Type == "identity" {
			all = append(all, p.env.ID)
		}
	}
	for _, p := range objs {
		var named struct {
			CreatedBy string   `json:"created_by_ref"`
			Where     []string `json:"where_sighted_refs"`
		}
		json.Unmarshal(p.raw, &named)
		for _, id := range append(named.Where, named.CreatedBy) {
			if strings.HasPrefix(id, "identity--") {
				refs[p.index] = append(refs[p.index], id)
				all = append(all, id)
			}
		}
	}
	if len(all) == 0 {
		return objs, nil
	}
	xsocs := map[string]bool{}
	for start := 0; start < len(all); start += 500 {
		var sb strings.Builder
		sb.WriteString(`SELECT DISTINCT object_id FROM intel_objects WHERE owner = ?`)
		args := inList(&sb, "object_id", all[start:min(start+500, len(all))], []any{SystemOwner})
		rows, err := r.db.Query(ctx, sb.String(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			xsocs[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if len(xsocs) == 0 {
		return objs, nil
	}
	var kept []parsed
	for _, p := range objs {
		if xsocs[p.env.ID] {
			outcome[p.index].Message, failed[p.index] = msgOtherOwner, true
			continue
		}
		kept = append(kept, p)
	}
	secret, err := r.secret(ctx)
	if err != nil {
		return nil, err
	}
	own := keyedID("identity", secret, "member/"+member)
	var out []parsed
	for _, p := range kept {
		if slices.ContainsFunc(refs[p.index], func(id string) bool { return xsocs[id] && id != own }) {
			outcome[p.index].Message, failed[p.index] = msgImpostor, true
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// holder is one member's hold on an object id: a stored version's owner,
// level and named recipients.
type holder struct {
	owner string
	level tlp.Level
	named []string
}

// holdersOf returns, per object id of a request that the collection holds
// already, who holds which versions (one entry per distinct owner, level
// and recipients), reading them in few queries rather than one per object.
func holdersOf(ctx context.Context, tx *store.Tx, collection string, objs []parsed) (map[string][]holder, error) {
	held := map[string][]holder{}
	const chunk = 500
	for start := 0; start < len(objs); start += chunk {
		var ids []string
		for _, p := range objs[start:min(start+chunk, len(objs))] {
			ids = append(ids, p.env.ID)
		}
		var sb strings.Builder
		sb.WriteString(`SELECT DISTINCT object_id, owner, tlp, named FROM intel_objects WHERE collection_id = ?`)
		args := inList(&sb, "object_id", ids, []any{collection})
		rows, err := tx.Query(ctx, sb.String(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, owner, named string
			var level int
			if err := rows.Scan(&id, &owner, &level, &named); err != nil {
				rows.Close()
				return nil, err
			}
			held[id] = append(held[id], holder{owner: owner, level: levelOf(level), named: decodeNamed(named)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return held, nil
}

// insert stores one object version of v's unless v has that version
// already or the id is another member's object that v sees (or xsoc's
// own); it returns the message for the object's status ("" for a plain
// success). held maps the collection's object ids to their holders and
// learns the objects this request adds. Versions v may not see never
// decide the answer, so it does not tell whether they exist.
func (r *Repo) insert(ctx context.Context, tx *store.Tx, clock *clock, coll Collection, v Viewer, canRead bool,
	held map[string][]holder, p parsed) (string, error) {
	owner := v.Member
	if refused(held[p.env.ID], v, canRead) {
		return msgOtherOwner, nil
	}
	held[p.env.ID] = append(held[p.env.ID], holder{owner: owner})
	named, err := encodeNamed(p.env.Recipients)
	if err != nil {
		return "", err
	}
	added := clock.tick(r.opts.Now())
	res, err := tx.Exec(ctx, `INSERT INTO intel_objects
		(collection_id, object_id, version, type, spec_version, date_added, owner, tlp, named, body, body20)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (collection_id, object_id, owner, version) DO NOTHING`,
		coll.ID, p.env.ID, store.Nanos(p.env.Version()), p.env.Type, p.env.SpecVersion, added,
		owner, int(p.env.Level(coll.UnmarkedLevel())), named, string(p.raw), string(p.raw20))
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return msgDuplicate, nil
	}
	return "", nil
}

// refused reports whether v may not add a version to an object id with
// these holders: v holds none of it, and another member's version is one v
// sees (it may read the collection and the version's level and recipients
// admit it) or the object is xsoc's own, whose ids are secret and visible
// to every member by design.
func refused(hs []holder, v Viewer, canRead bool) bool {
	for _, h := range hs {
		if h.owner == v.Member {
			return false
		}
	}
	for _, h := range hs {
		if h.owner == SystemOwner || canRead && v.mayRead(h.owner, h.level, h.named) {
			return true
		}
	}
	return false
}

// clock is the repository-wide date_added clock, held for the length of a
// transaction.
type clock struct{ last int64 }

// lockClock takes the clock row: on PostgreSQL the UPDATE holds its row
// lock until commit, serialising writers; SQLite serialises writers
// anyway.
func lockClock(ctx context.Context, tx *store.Tx) (clock, error) {
	if _, err := tx.Exec(ctx, `UPDATE intel_clock SET last = last WHERE id = 1`); err != nil {
		return clock{}, err
	}
	var c clock
	err := tx.QueryRow(ctx, `SELECT last FROM intel_clock WHERE id = 1`).Scan(&c.last)
	return c, err
}

// tick returns the next date_added: now at microsecond precision (what
// TAXII timestamps carry), but always at least one microsecond after the
// last one, so values are unique and increasing even if the wall clock
// steps back.
func (c *clock) tick(now time.Time) int64 {
	n := now.UnixNano() / 1000 * 1000
	if n <= c.last {
		n = c.last + 1000
	}
	c.last = n
	return n
}

func (c *clock) save(ctx context.Context, tx *store.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE intel_clock SET last = ? WHERE id = 1`, c.last)
	return err
}

// encodeNamed stores named recipients as a JSON list ("" for none).
func encodeNamed(named []string) (string, error) {
	if len(named) == 0 {
		return "", nil
	}
	b, err := json.Marshal(named)
	return string(b), err
}

func decodeNamed(s string) []string {
	if s == "" {
		return nil
	}
	var named []string
	json.Unmarshal([]byte(s), &named)
	return named
}

// compact stores objects without insignificant whitespace.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func saveStatus(ctx context.Context, tx *store.Tx, st Status) error {
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO intel_statuses (id, member, collection_id, requested, body) VALUES (?, ?, ?, ?, ?)`,
		st.ID, st.Member, st.Collection, store.Nanos(st.Requested), string(body))
	return err
}

// Status returns a stored add-request status. Only the member that made
// the request (or an operator) may read it.
func (r *Repo) Status(ctx context.Context, v Viewer, id string) (Status, error) {
	var member, body string
	err := r.db.QueryRow(ctx, `SELECT member, body FROM intel_statuses WHERE id = ?`, id).Scan(&member, &body)
	if store.NotFound(err) {
		return Status{}, fmt.Errorf("intel: status %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Status{}, fmt.Errorf("intel: status %s: %w", id, err)
	}
	if !v.Operator && v.Member != member {
		// Someone else's request: do not reveal that it exists.
		return Status{}, fmt.Errorf("intel: status %s: %w", id, ErrNotFound)
	}
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return Status{}, fmt.Errorf("intel: status %s: %w", id, err)
	}
	return st, nil
}

// PruneStatuses deletes statuses of requests made before t and returns
// how many it deleted.
func (r *Repo) PruneStatuses(ctx context.Context, before time.Time) (int64, error) {
	res, err := r.db.Exec(ctx, `DELETE FROM intel_statuses WHERE requested < ?`, store.Nanos(before))
	if err != nil {
		return 0, fmt.Errorf("intel: prune statuses: %w", err)
	}
	return res.RowsAffected()
}

// levelOf converts a stored TLP column, treating anything unknown as RED.
func levelOf(n int) tlp.Level {
	if n < 0 || n > int(tlp.Red) {
		return tlp.Red
	}
	return tlp.Level(n)
}
