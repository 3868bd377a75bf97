package openfeature

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/rollout"
)

// The values of the error.type attribute of dualrun.rollout.errors, one per
// kind of problem a flag can have. Each keeps the last good value in force.
const (
	// ErrorTypeFlagNotFound means the provider has no flag of that key.
	ErrorTypeFlagNotFound = "flag_not_found"
	// ErrorTypeTypeMismatch means the flag is neither a string nor an
	// object (a boolean or a number, say) or has no value.
	ErrorTypeTypeMismatch = "type_mismatch"
	// ErrorTypeUnknownSide means a string value that is not one of the four
	// states, or a "primary" field that is neither "legacy" nor
	// "candidate".
	ErrorTypeUnknownSide = "unknown_side"
	// ErrorTypePercentOutOfRange means a percentage below 0, above 100, NaN
	// or infinite.
	ErrorTypePercentOutOfRange = "percent_out_of_range"
	// ErrorTypeInvalidValue means an object with an unknown field or a
	// field of the wrong type.
	ErrorTypeInvalidValue = "invalid_value"
	// ErrorTypeProviderNotReady means the provider has not finished
	// initialising.
	ErrorTypeProviderNotReady = "provider_not_ready"
	// ErrorTypeProviderError means the provider failed (error codes
	// GENERAL, PARSE_ERROR, PROVIDER_FATAL and the like) or panicked, or a
	// hook failed.
	ErrorTypeProviderError = "provider_error"
	// ErrorTypeInvalidContext means the provider rejected the evaluation
	// context (INVALID_CONTEXT, TARGETING_KEY_MISSING), or the hook of
	// [WithEvaluationContext] panicked (per-call mode only).
	ErrorTypeInvalidContext = "invalid_context"
)

// The string shorthands of a flag value.
const (
	stateLegacy        = "legacy"
	stateShadow        = "shadow"
	stateCandidate     = "candidate"
	stateCandidateOnly = "candidate-only"
)

// The fields of an object flag value.
const (
	fieldPrimary   = "primary"
	fieldCandidate = "candidate_primary_percent"
	fieldShadow    = "shadow_percent"
)

// problem is one thing wrong with a flag or its evaluation.
type problem struct {
	typ string // an ErrorType* constant
	msg string
}

func (p *problem) Error() string { return p.typ + ": " + p.msg }

func problemf(typ, format string, args ...any) *problem {
	return &problem{typ: typ, msg: safe.Cut(fmt.Sprintf(format, args...), 512)}
}

// parseValue turns a flag value into a rollout. It accepts a string
// shorthand or an object (a map[string]any, as providers decode JSON
// objects); anything else is a problem.
func parseValue(v any) (rollout.Static, *problem) {
	switch v := v.(type) {
	case string:
		return parseState(v)
	case map[string]any:
		return parseObject(v)
	case nil:
		return rollout.Static{}, problemf(ErrorTypeTypeMismatch, "the flag has no value (null)")
	}
	return rollout.Static{}, problemf(ErrorTypeTypeMismatch, "a flag value of type %T: want a string or an object", v)
}

func parseState(s string) (rollout.Static, *problem) {
	switch s {
	case stateLegacy:
		return rollout.Static{}, nil
	case stateShadow:
		return rollout.Static{Shadow: rollout.All}, nil
	case stateCandidate:
		return rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}, nil
	case stateCandidateOnly:
		return rollout.Static{CandidatePrimary: rollout.All}, nil
	}
	return rollout.Static{}, problemf(ErrorTypeUnknownSide, "%q: want %q, %q, %q or %q",
		safe.Cut(s, 64), stateLegacy, stateShadow, stateCandidate, stateCandidateOnly)
}

// parseObject reads {"primary", "candidate_primary_percent",
// "shadow_percent"}, every field optional. An absent
// candidate_primary_percent is 100 when primary is "candidate" and 0
// otherwise; an absent shadow_percent is 0. Explicit percentages win over
// what primary implies.
func parseObject(m map[string]any) (rollout.Static, *problem) {
	var s rollout.Static
	var unknown []string
	for k := range m {
		if k != fieldPrimary && k != fieldCandidate && k != fieldShadow {
			unknown = append(unknown, safe.Cut(k, 64))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return s, problemf(ErrorTypeInvalidValue, "unknown field(s) %q: want %q, %q and %q",
			strings.Join(unknown, `", "`), fieldPrimary, fieldCandidate, fieldShadow)
	}
	if v, ok := m[fieldPrimary]; ok {
		side, isString := v.(string)
		if !isString {
			return s, problemf(ErrorTypeInvalidValue, "%q is a %T: want %q or %q", fieldPrimary, v, stateLegacy, stateCandidate)
		}
		switch side {
		case stateLegacy:
		case stateCandidate:
			s.CandidatePrimary = rollout.All
		default:
			return s, problemf(ErrorTypeUnknownSide, "%q is %q: want %q or %q", fieldPrimary, safe.Cut(side, 64), stateLegacy, stateCandidate)
		}
	}
	for _, f := range []struct {
		name string
		dst  *rollout.BasisPoints
	}{{fieldCandidate, &s.CandidatePrimary}, {fieldShadow, &s.Shadow}} {
		v, ok := m[f.name]
		if !ok {
			continue
		}
		bp, p := percent(f.name, v)
		if p != nil {
			return rollout.Static{}, p
		}
		*f.dst = bp
	}
	return s, nil
}

// percent reads a percentage in [0, 100] of any numeric type, rounded to
// the nearest basis point.
func percent(name string, v any) (rollout.BasisPoints, *problem) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case float32:
		f = float64(v)
	case int:
		f = float64(v)
	case int8:
		f = float64(v)
	case int16:
		f = float64(v)
	case int32:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint:
		f = float64(v)
	case uint8:
		f = float64(v)
	case uint16:
		f = float64(v)
	case uint32:
		f = float64(v)
	case uint64:
		f = float64(v)
	case json.Number:
		var err error
		if f, err = v.Float64(); err != nil {
			return 0, problemf(ErrorTypeInvalidValue, "%q is %q: want a number", name, safe.Cut(string(v), 64))
		}
	default:
		return 0, problemf(ErrorTypeInvalidValue, "%q is a %T: want a number from 0 to 100", name, v)
	}
	if math.IsNaN(f) || f < 0 || f > 100 {
		return 0, problemf(ErrorTypePercentOutOfRange, "%q is %v: want a percentage from 0 to 100", name, f)
	}
	return rollout.Percent(f), nil
}
