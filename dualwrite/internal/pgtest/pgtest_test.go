package pgtest

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBinDir(t *testing.T) {
	tests := []struct {
		name, reason string
		env          string
		wantErr      bool
	}{
		{name: "bad-env", reason: "a DUALRUN_PG_BIN without the programs is an error, not a fallback", env: t.TempDir(), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DUALRUN_PG_BIN", tt.env)
			if _, err := BinDir(); (err != nil) != tt.wantErr {
				t.Fatalf("%s: err = %v", tt.reason, err)
			}
		})
	}
}

// TestStopStart: a cluster stops and starts again on its data, and is gone
// after Destroy.
func TestStopStart(t *testing.T) {
	c := Own(t)
	db, _ := NewDB(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (v INT); INSERT INTO t VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("the stopped server still answers")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT v FROM t`).Scan(&v); err != nil || v != 7 {
		t.Fatalf("after the restart: %d, %v", v, err)
	}
}
