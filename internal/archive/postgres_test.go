package archive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xsoc/xsoc/internal/store/storetest"
)

// openTestPostgres opens the PostgreSQL engine on a private schema of the
// test server, dropped when the test ends.
func openTestPostgres(t testing.TB) Engine {
	t.Helper()
	if os.Getenv("XSOC_TEST_POSTGRES") == "skip" {
		t.Skip("XSOC_TEST_POSTGRES=skip")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, storetest.PostgresURL())
	if err != nil {
		t.Fatalf("PostgreSQL not reachable (start it, or set XSOC_TEST_POSTGRES=skip): %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "xsoc_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(storetest.PostgresURL(), "?") {
		sep = "&"
	}
	p, err := OpenPostgres(ctx, storetest.PostgresURL()+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	return p
}
