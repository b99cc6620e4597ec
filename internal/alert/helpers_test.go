package alert_test

import (
	"testing"

	"github.com/xsoc/xsoc/internal/alert"
	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

func fuzzDB(f *testing.F) *store.DB { return storetest.SQLite(f, alert.Schema()) }
