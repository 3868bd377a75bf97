package dualrun

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"
)

// expiry records the order in which calls expire.
type expiry struct {
	mu    sync.Mutex
	order []string
}

type fakeCall struct {
	callInfo
	name string
	log  *expiry
}

func (f *fakeCall) expire() {
	f.log.mu.Lock()
	f.log.order = append(f.log.order, f.name)
	f.log.mu.Unlock()
}

func (e *expiry) got() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.order)
}

// TestDeadlineQueue pins the one-timer deadline queue: calls expire in
// deadline order whatever their arrival order, a removed call never
// expires, an earlier arrival re-arms the timer, and stop leaves nothing
// armed.
func TestDeadlineQueue(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		offsets []time.Duration // deadline of call i, from now
		remove  []int           // calls removed before any deadline
		wantAt  map[time.Duration][]string
	}{
		{
			name: "in-order", reason: "the common case: same timeout, nearly sorted arrivals",
			offsets: []time.Duration{10, 20, 30},
			wantAt:  map[time.Duration][]string{10: {"0"}, 20: {"0", "1"}, 30: {"0", "1", "2"}},
		},
		{
			name: "earlier-arrival", reason: "a caller's deadline can be earlier than the queue's head: the timer is re-armed",
			offsets: []time.Duration{30, 10, 20},
			wantAt:  map[time.Duration][]string{10: {"1"}, 20: {"1", "2"}, 30: {"1", "2", "0"}},
		},
		{
			name: "removed", reason: "a shadow that returned in time leaves the queue and never expires",
			offsets: []time.Duration{10, 20, 30}, remove: []int{0, 2},
			wantAt: map[time.Duration][]string{10: nil, 20: {"1"}, 30: {"1"}},
		},
		{
			name: "same-deadline", reason: "equal deadlines expire together, in arrival order",
			offsets: []time.Duration{10, 10, 10},
			wantAt:  map[time.Duration][]string{9: nil, 10: {"0", "1", "2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := deadlineQueue{expire: func(ci *callInfo) { (*fakeCall)(unsafe.Pointer(ci)).expire() }}
				log := &expiry{}
				start := monoNow()
				calls := make([]*fakeCall, len(tt.offsets))
				for i, off := range tt.offsets {
					c := &fakeCall{name: string(rune('0' + i)), log: log}
					c.deadline = start + off*time.Millisecond
					calls[i] = c
					q.add(&c.callInfo)
				}
				for _, i := range tt.remove {
					q.remove(&calls[i].callInfo)
				}
				var ats []time.Duration
				for at := range tt.wantAt {
					ats = append(ats, at)
				}
				slices.Sort(ats)
				for _, at := range ats {
					time.Sleep(start + at*time.Millisecond - monoNow())
					synctest.Wait()
					if got := log.got(); !slices.Equal(got, tt.wantAt[at]) {
						t.Fatalf("at %vms expired %q, want %q (%s)", int64(at), got, tt.wantAt[at], tt.reason)
					}
				}
				q.stop()
				if q.isArmed {
					t.Error("timer still armed after stop on an empty queue")
				}
			})
		})
	}
}

// TestCallInfoFirst pins what expireCall relies on: a call's callInfo is its
// first field, so a *callInfo the deadline queue holds is the address of
// its call[T] (and of the test's fakeCall).
func TestCallInfoFirst(t *testing.T) {
	tests := []struct {
		name   string
		offset uintptr
	}{
		{"call[int]", unsafe.Offsetof(call[int]{}.callInfo)},
		{"call[string]", unsafe.Offsetof(call[string]{}.callInfo)},
		{"call[struct]", unsafe.Offsetof(call[drainValue]{}.callInfo)},
		{"fakeCall", unsafe.Offsetof(fakeCall{}.callInfo)},
	}
	for _, tt := range tests {
		if tt.offset != 0 {
			t.Errorf("%s: callInfo at offset %d, want 0", tt.name, tt.offset)
		}
	}
}
