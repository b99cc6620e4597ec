package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/xsoc/xsoc/internal/api"
	"github.com/xsoc/xsoc/internal/intel"
	"github.com/xsoc/xsoc/internal/member"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/tlp"
)

// collectionOpts are the flags of the collection subcommands.
type collectionOpts struct {
	json                      bool
	title, description, alias string
	level, id                 string
	community, read, write    bool
}

// collectionFlags declares the flags sub takes.
func collectionFlags(fs *flag.FlagSet, sub string) *collectionOpts {
	o := new(collectionOpts)
	switch sub {
	case "collections":
		fs.BoolVar(&o.json, "json", false, "print JSON")
	case "collection-add":
		fs.StringVar(&o.title, "title", "", "collection title (required)")
		fs.StringVar(&o.description, "description", "", "what the collection holds")
		fs.StringVar(&o.alias, "alias", "", "short name")
		fs.StringVar(&o.level, "tlp", "", "TLP of objects without a TLP marking (default TLP:AMBER)")
		fs.StringVar(&o.id, "id", "", "collection id, a UUID (default: a new one)")
		fs.BoolVar(&o.community, "community-read", false, "every member may read it (each object's TLP still decides)")
	case "collection-rights":
		fs.BoolVar(&o.read, "read", false, "the member may read the collection")
		fs.BoolVar(&o.write, "write", false, "the member may add objects to the collection")
	}
	return o
}

// listCollections prints every collection with the members' rights.
func listCollections(ctx context.Context, repo *intel.Repo, asJSON bool, stdout io.Writer) error {
	cs, err := repo.Collections(ctx, intel.Viewer{Operator: true})
	if err != nil {
		return err
	}
	views := make([]api.CollectionView, 0, len(cs))
	for _, c := range cs {
		rights, err := repo.MemberRights(ctx, c.ID)
		if err != nil {
			return err
		}
		views = append(views, api.ViewCollection(c, rights))
	}
	if asJSON {
		return printJSON(stdout, map[string]any{"collections": views})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTITLE\tDEFAULT TLP\tCOMMUNITY READ\tMEMBERS")
	for _, v := range views {
		members := make([]string, 0, len(v.Rights))
		for _, m := range slices.Sorted(maps.Keys(v.Rights)) {
			members = append(members, m+" "+rightsText(v.Rights[m]))
		}
		list := strings.Join(members, ", ")
		if list == "" {
			list = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.Title, v.DefaultTLP, yesNo(v.CommunityRead), list)
	}
	return tw.Flush()
}

func rightsText(r api.RightsView) string {
	switch {
	case r.Read && r.Write:
		return "read+write"
	case r.Write:
		return "write"
	}
	return "read"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// addCollection creates a collection.
func addCollection(ctx context.Context, db *store.DB, repo *intel.Repo, o *collectionOpts, stdout io.Writer) error {
	if strings.TrimSpace(o.title) == "" {
		return errors.New("collection-add needs --title")
	}
	c := intel.Collection{ID: o.id, Title: o.title, Description: o.description, Alias: o.alias, CommunityRead: o.community}
	if o.level != "" {
		l, err := tlp.Parse(o.level)
		if err != nil {
			return fmt.Errorf("--tlp: %w", err)
		}
		c.DefaultTLP = &l
	}
	c, err := repo.CreateCollection(ctx, c)
	if err != nil {
		return err
	}
	if err := recordCLI(ctx, db, "intel collection-add", c.ID, c.Title); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "collection %s (%s) created, unmarked objects %s", c.ID, c.Title, c.UnmarkedLevel())
	if c.CommunityRead {
		fmt.Fprint(stdout, ", every member may read it")
	}
	fmt.Fprintf(stdout, "\ngive members rights with: xsoc intel collection-rights --collection %s --member M --read --write\n", c.ID)
	return nil
}

// setCollectionRights gives a member rights on a collection.
func setCollectionRights(ctx context.Context, db *store.DB, repo *intel.Repo, coll, memberID string, o *collectionOpts, stdout io.Writer) error {
	if coll == "" || memberID == "" {
		return errors.New("collection-rights needs --collection and --member")
	}
	if _, err := member.NewRegistry(db).Get(ctx, memberID); err != nil {
		return err
	}
	if _, err := repo.Collection(ctx, intel.Viewer{Operator: true}, coll); errors.Is(err, intel.ErrNotFound) {
		return fmt.Errorf("no collection %s (xsoc intel collections lists them)", coll)
	}
	if err := repo.SetRights(ctx, coll, memberID, intel.Rights{Read: o.read, Write: o.write}); err != nil {
		return err
	}
	what := "has no rights on"
	if o.read || o.write {
		what = "may now " + strings.Replace(rightsText(api.RightsView{Read: o.read, Write: o.write}), "+", " and ", 1)
	}
	if err := recordCLI(ctx, db, "intel collection-rights", coll, memberID+": "+what); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s collection %s\n", memberID, what, coll)
	return nil
}
