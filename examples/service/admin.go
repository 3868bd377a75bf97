package main

import (
	"log/slog"
	"net"
	"net/http"

	"github.com/dualrun/dualrun/rollout"
)

// admin is the service's state that the admin endpoints show and change:
// the candidate version in force and the source of the rollout.
type admin struct {
	candidate *candidateSwitch
	rollout   *rolloutSource
}

// rolloutBody is the body of GET /admin/rollout: the rollout in force in
// this replica.
type rolloutBody struct {
	Experiment string `json:"experiment"`
	// CandidatePrimaryBP is the share of calls on which the candidate is
	// primary, in basis points (10000 is 100%).
	CandidatePrimaryBP int `json:"candidate_primary_bp"`
	// ShadowBP is the share of calls compared, in basis points.
	ShadowBP int `json:"shadow_bp"`
	// Primary is "legacy" (the candidate is never primary), "candidate"
	// (always) or "mixed".
	Primary string `json:"primary"`
	// Candidate is the candidate version in force: rewrite, good or bad.
	Candidate string `json:"candidate"`
	// Source is "flag-file" (the rollout follows the flag file) or
	// "static" (-candidate-primary).
	Source string `json:"source"`
	// FlagFile is the flag file's path, with source "flag-file".
	FlagFile string `json:"flag_file,omitempty"`
	// FlagProblem describes what is wrong with the flag's latest value; the
	// last good one stays in force meanwhile.
	FlagProblem string `json:"flag_problem,omitempty"`
}

func newRolloutBody(st rollout.Static, a *admin) rolloutBody {
	cp, sh := min(st.CandidatePrimary, rollout.All), min(st.Shadow, rollout.All)
	b := rolloutBody{
		Experiment:         experimentName,
		CandidatePrimaryBP: int(cp),
		ShadowBP:           int(sh),
		Primary:            "mixed",
		Candidate:          a.candidate.load().String(),
		Source:             "static",
		FlagFile:           a.rollout.path,
		FlagProblem:        a.rollout.problem(),
	}
	switch cp {
	case 0:
		b.Primary = "legacy"
	case rollout.All:
		b.Primary = "candidate"
	}
	if a.rollout.flags != nil {
		b.Source = "flag-file"
	}
	return b
}

// candidateBody is the body of POST /admin/candidate.
type candidateBody struct {
	Candidate string `json:"candidate"`
	Previous  string `json:"previous"`
}

// handleRollout serves GET /admin/rollout.
func (a *admin) handleRollout(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, newRolloutBody(a.rollout.load(), a))
}

// handleCandidate serves POST /admin/candidate?version=rewrite|good|bad:
// it switches the candidate code for the calls that start after it. Only
// a caller on this machine (a loopback address) may switch it, whatever
// address the service listens on.
func (a *admin) handleCandidate(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	if !fromLoopback(r.RemoteAddr) {
		writeJSON(w, http.StatusForbidden, errorBody{Error: "the candidate is switched from this machine only (a loopback address)"})
		return
	}
	q := r.URL.Query()
	vs, ok := q["version"]
	if !ok || len(vs) != 1 || len(q) != 1 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "want exactly one query parameter, version=rewrite|good|bad"})
		return
	}
	v, err := parseVersion(vs[0])
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	prev := a.candidate.swap(v)
	log.Info("candidate switched", "from", prev, "to", v)
	writeJSON(w, http.StatusOK, candidateBody{Candidate: v.String(), Previous: prev.String()})
}

// fromLoopback reports whether a request's remote address (host:port) is a
// loopback address.
func fromLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
