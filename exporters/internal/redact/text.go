package redact

import (
	"errors"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/safe"
)

// MaxErrorText bounds each error text an exporter writes, as in the JSON
// form of a Report.
const MaxErrorText = 1 << 10

// ErrorText is err's text cut to MaxErrorText, read behind recover; "" for
// a nil err.
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	return safe.ErrorText(err, MaxErrorText)
}

// CallbackName names the failed callback of a Report's CallbackErr: the
// Callback of the *dualrun.CallbackError in its chain, or "unknown". The
// chain is user code (Unwrap methods), walked behind recover.
func CallbackName(err error) string {
	if err == nil {
		return ""
	}
	name := "unknown"
	_ = safe.Call("Unwrap", func() {
		var ce *dualrun.CallbackError
		if errors.As(err, &ce) && ce.Callback != "" {
			name = ce.Callback
		}
	}, nil)
	return safe.Cut(name, 128)
}
