package dualrun

import (
	"os"
	"os/exec"
	"testing"
)

func TestEnvTrue(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"1", true},
		{"true", true},
		{" TRUE ", true},
		{"yes", true},
		{"on", true},
		{"t", true},
		{"", false},
		{"0", false},
		{"false", false},
		{"off", false},
		{"no", false},
		{"2", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := envTrue(tt.in); got != tt.want {
				t.Errorf("envTrue(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestEnvKillSwitch starts this test binary again with
// DUALRUN_DISABLE_SHADOWS=1: shadows must be off from the start.
func TestEnvKillSwitch(t *testing.T) {
	if os.Getenv("DUALRUN_KILL_SWITCH_CHILD") == "1" {
		if ShadowsEnabled() {
			t.Fatal("shadows enabled although DUALRUN_DISABLE_SHADOWS=1")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnvKillSwitch$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DUALRUN_KILL_SWITCH_CHILD=1", EnvDisableShadows+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
