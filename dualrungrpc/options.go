package dualrungrpc

import (
	"fmt"
	"slices"

	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun"
)

// DefaultMaxMethods is how many methods a [Client] or a [Server] keeps an
// experiment for unless [WithMaxMethods] says otherwise.
const DefaultMaxMethods = 128

// config is the resolved configuration of a Client or a Server. Options
// copy it by value.
type config struct {
	expOpts        []dualrun.Option
	ignores        []string
	cmpOpts        []cmp.Option
	statusMessages bool
	filter         func(fullMethod string) bool
	name           func(fullMethod string) string
	maxMethods     int
}

func newConfig(opts []Option) config {
	c := config{maxMethods: DefaultMaxMethods}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// Option configures a [Client] or a [Server].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithExperimentOptions passes opts to the experiment of every method, after
// dualrungrpc's own: the rollout ([dualrun.WithRollout]), the shadow timeout,
// the in-flight limit, publishers, meter and tracer providers, and so on.
//
// The experiments compare values of a type private to this package, so
// typed comparison options of package dualrun ([dualrun.WithComparer],
// [dualrun.WithNormalizer], [dualrun.WithIgnore], [dualrun.WithClone]) do
// not apply: an experiment given one fails to build, and its method is
// passed through uncompared (the error goes to otel.Handle). Compare
// messages with [WithIgnoreFields] and [WithCmpOptions] instead.
// [dualrun.WithErrorComparer] and [dualrun.WithErrorClassifier] replace
// dualrungrpc's status-code comparison and classification.
func WithExperimentOptions(opts ...dualrun.Option) Option {
	return optionFunc(func(c config) config {
		c.expOpts = append(slices.Clip(c.expOpts), opts...)
		return c
	})
}

// WithIgnoreFields ignores the named response fields when messages are
// compared. A path names proto fields from the response message down,
// separated by dots, as in a google.protobuf.FieldMask: "request_id",
// "items.updated_at". Repeated and map fields are crossed without an index:
// "items.updated_at" ignores updated_at in every element of items. The
// differing paths dualrungrpc reports (".items[*].updated_at") are accepted
// too. A path ignores that field in any response that has it, whatever the
// method. WithIgnoreFields panics on a malformed path.
func WithIgnoreFields(paths ...string) Option {
	for _, p := range paths {
		if _, err := parseFieldPath(p); err != nil {
			panic(fmt.Sprintf("dualrungrpc: WithIgnoreFields(%q): %v", p, err))
		}
	}
	return optionFunc(func(c config) config {
		c.ignores = append(slices.Clip(c.ignores), paths...)
		return c
	})
}

// WithCmpOptions adds go-cmp options to the comparison of response messages,
// which runs with protocmp.Transform(): options of package
// google.golang.org/protobuf/testing/protocmp (IgnoreUnknown,
// SortRepeatedFields, IgnoreEmptyMessages, FilterField with
// cmpopts.EquateApprox, …) apply.
//
// Without them, equal responses cost one proto.Equal and go-cmp walks only
// responses that differ. With them, every compared pair is walked (about
// 40 times the cost of proto.Equal on a small message), and repeated fields
// are aligned by go-cmp's edit script instead of index by index, which
// costs twice as much per level of repeated messages nested in repeated
// messages; the experiment's comparison budget (dualrun.WithCompareBudget)
// bounds both. dualrun.WithCmpOptions, given through WithExperimentOptions,
// does not reach the messages.
func WithCmpOptions(opts ...cmp.Option) Option {
	return optionFunc(func(c config) config {
		c.cmpOpts = append(slices.Clip(c.cmpOpts), opts...)
		return c
	})
}

// WithStatusMessages compares the messages of the two sides' statuses as
// well as their codes. By default two errors with the same status code are
// equivalent, whatever their messages.
func WithStatusMessages() Option {
	return optionFunc(func(c config) config {
		c.statusMessages = true
		return c
	})
}

// WithMethodFilter shadows only the unary methods for which fn returns
// true; the others run their primary as the rollout picks it, uncompared.
// fn is called once per full method name ("/pkg.Service/Method"); if it
// panics, the method is not shadowed and the panic goes to otel.Handle.
//
// By default every unary method is shadowed. A method that writes (creates
// an order, charges a card) is a dual write when its shadow reaches a real
// backend: filter it out, or make the candidate skip its side effects when
// dualrun.IsShadow(ctx) is true.
func WithMethodFilter(fn func(fullMethod string) bool) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.filter = fn
		}
		return c
	})
}

// WithExperimentName names the experiment of each method: fn gets the full
// method name ("/pkg.Service/Method"), which is the name by default. Use it
// when one process shadows the same method on the client and on the server
// side, or on two clients, so that their metrics stay apart. An empty
// name, or a panic in fn, falls back to the full method name.
func WithExperimentName(fn func(fullMethod string) string) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.name = fn
		}
		return c
	})
}

// WithMaxMethods caps the methods a Client or a Server keeps an experiment
// for (default [DefaultMaxMethods]). Calls of further methods run their
// primary only and are counted under the method "_OTHER" in Stats. It
// panics if n < 1.
func WithMaxMethods(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("dualrungrpc: WithMaxMethods(%d): want at least 1", n))
	}
	return optionFunc(func(c config) config {
		c.maxMethods = n
		return c
	})
}
