package rollout

// String describes s for people, e.g. "legacy only", "shadow 100%" or
// "shadow 100%, candidate primary 10%".
func (s Static) String() string {
	sh, cp := min(s.Shadow, All), min(s.CandidatePrimary, All)
	switch {
	case sh == 0 && cp == 0:
		return "legacy only"
	case sh == 0 && cp == All:
		return "candidate only"
	case cp == 0:
		return "shadow " + sh.String()
	case sh == 0:
		return "candidate primary " + cp.String() + ", no shadow"
	}
	return "shadow " + sh.String() + ", candidate primary " + cp.String()
}
