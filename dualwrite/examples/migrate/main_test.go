package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dualrun/dualrun/dualwrite/internal/pgtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(stopping{m})
}

type stopping struct{ m *testing.M }

func (s stopping) Run() int {
	code := s.m.Run()
	pgtest.StopShared()
	return code
}

// TestMigrate runs the whole walk-through, SQLite to SQLite and SQLite to
// PostgreSQL, and checks each phase's report.
func TestMigrate(t *testing.T) {
	tests := []struct {
		name, reason string
		postgres     bool
	}{
		{name: "sqlite", reason: "the default: nothing to install"},
		{name: "postgres", reason: "the new table in PostgreSQL (-postgres)", postgres: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cfg := config{dir: t.TempDir(), seed: 120, writes: 150, workers: 3}
			if tt.postgres {
				_, cfg.postgres = pgtest.NewDB(t, pgtest.Shared(t))
			}
			var out strings.Builder
			if err := run(ctx, cfg, &out); err != nil {
				t.Fatalf("%s: %v\n%s", tt.reason, err, out.String())
			}
			got := out.String()
			for _, want := range []string{
				"== 1. shadow writes",
				"missing, 0 extra, 0 changed",       // the dry run finds the rows to copy
				"repair failed 0)",                  // the backfill copies them all
				"primary for cust-00000: candidate", // the cut-over
				"primary for cust-00000: legacy",    // the rollback
				"0 missing, 0 extra, 0 changed, 0 in flight (dry run)\nsecondary writes:", // the final report
				"given up 0, pending 0",
				"the tables agree",
			} {
				if !strings.Contains(got, want) {
					t.Fatalf("%s: the output lacks %q:\n%s", tt.reason, want, got)
				}
			}
			if strings.Contains(got, "check:   customers") && strings.Count(got, "0 missing, 0 extra, 0 changed") < 4 {
				t.Fatalf("a phase ended with the tables apart:\n%s", got)
			}
		})
	}
}
