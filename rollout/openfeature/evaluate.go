package openfeature

import (
	"context"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/rollout"
)

// evaluate reads e's flag with the evaluation context ec and turns it into a
// rollout. A flag may be an object or a string: it is evaluated as the kind
// that worked last, and as the other kind when the provider says the type
// does not match (flagd does; the in-memory provider returns any value from
// an object evaluation).
func (p *Policy) evaluate(ctx context.Context, e *entry, ec of.EvaluationContext) (rollout.Static, *problem) {
	first := e.kind.Load()
	var mismatch *problem
	for _, k := range [2]uint32{first, 1 - first} {
		st, prob, typeMismatch := p.evaluateAs(ctx, e.flag, ec, k)
		if !typeMismatch {
			if prob == nil && k != first {
				e.kind.Store(k)
			}
			return st, prob
		}
		if mismatch == nil {
			mismatch = prob
		}
	}
	return rollout.Static{}, mismatch
}

// evaluateAs evaluates flag as an object or a string flag. typeMismatch
// reports that the provider refused that type, so the other may work.
func (p *Policy) evaluateAs(ctx context.Context, flag string, ec of.EvaluationContext, kind uint32) (st rollout.Static, prob *problem, typeMismatch bool) {
	var (
		value  any
		detail of.ResolutionDetail
		err    error
	)
	// Providers are user code too: one that panics must not take the
	// caller (per-call mode) or the refresher down.
	perr := safe.Call("OpenFeature evaluation", func() {
		if kind == kindString {
			d, e := p.client.StringValueDetails(ctx, flag, "", ec)
			value, detail, err = d.Value, d.ResolutionDetail, e
			return
		}
		d, e := p.client.ObjectValueDetails(ctx, flag, nil, ec)
		value, detail, err = d.Value, d.ResolutionDetail, e
	}, nil)
	if perr != nil {
		return st, problemf(ErrorTypeProviderError, "%s", safe.ErrorText(perr, 256)), false
	}
	if err != nil || detail.ErrorCode != "" {
		return st, classify(detail, err), detail.ErrorCode == of.TypeMismatchCode
	}
	if isCodeDefault(value, detail) {
		// The flag is disabled, or resolved to no value: the application's
		// default, which for a migration is the code before it.
		return rollout.Static{}, nil, false
	}
	st, prob = parseValue(value)
	return st, prob, false
}

// isCodeDefault reports an evaluation without error that handed back the
// default we passed (nil or ""): a disabled flag, or one whose targeting
// and default variant resolve to nothing (flagd's null default variant).
func isCodeDefault(value any, d of.ResolutionDetail) bool {
	if value != nil && value != "" {
		return false
	}
	return d.Reason == of.DisabledReason || (d.Reason == of.DefaultReason && d.Variant == "")
}

// classify maps an OpenFeature error to an error type and a message.
func classify(d of.ResolutionDetail, err error) *problem {
	msg := d.ErrorMessage
	if msg == "" {
		msg = safe.ErrorText(err, 256)
	}
	typ := ErrorTypeProviderError
	switch d.ErrorCode {
	case of.FlagNotFoundCode:
		typ = ErrorTypeFlagNotFound
	case of.TypeMismatchCode:
		typ = ErrorTypeTypeMismatch
	case of.ProviderNotReadyCode:
		typ = ErrorTypeProviderNotReady
	case of.InvalidContextCode, of.TargetingKeyMissingCode:
		typ = ErrorTypeInvalidContext
	}
	if d.ErrorCode != "" {
		msg = string(d.ErrorCode) + ": " + msg
	}
	return problemf(typ, "%s", msg)
}
