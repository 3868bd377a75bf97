package dualrun

import (
	"sync"
	"time"
)

// deadlineQueue records timeouts at the shadows' deadlines with one timer
// per experiment instead of one per call.
//
// Running shadows sit in a list ordered by deadline. The timer is armed for
// the earliest deadline when the list goes from empty to not, or gets an
// earlier head; it is not re-armed when a call leaves the list (the common
// case: the shadow returned in time). When it fires it expires every call
// whose deadline has passed and re-arms for the new head. In steady traffic
// it fires about once per shadow timeout, whatever the call rate. Deadlines
// are nearly sorted on arrival (start + the same timeout), so an insertion
// walks back from the tail a step or two; a call capped earlier by its
// caller's deadline walks further, at most the calls in flight.
type deadlineQueue struct {
	// expire records the timeout of a queued call. It is set once, before
	// the first add, by the experiment, which knows the call's type: a
	// func per queue rather than an interface value per call keeps the
	// call record within the allocator's 480-byte size class.
	expire func(*callInfo)

	mu      sync.Mutex
	head    *callInfo
	tail    *callInfo
	timer   *time.Timer
	armed   mono // the deadline the timer is armed for, if isArmed
	isArmed bool
}

func (q *deadlineQueue) add(ci *callInfo) {
	q.mu.Lock()
	defer q.mu.Unlock()
	at := q.tail
	for at != nil && at.deadline > ci.deadline {
		at = at.prev
	}
	// Insert after at (at == nil: at the head).
	ci.prev = at
	if at == nil {
		ci.next = q.head
		q.head = ci
	} else {
		ci.next = at.next
		at.next = ci
	}
	if ci.next == nil {
		q.tail = ci
	} else {
		ci.next.prev = ci
	}
	ci.queued = true
	if !q.isArmed || ci.deadline < q.armed {
		q.arm(ci.deadline)
	}
}

// remove takes ci out of the queue if it is still there.
func (q *deadlineQueue) remove(ci *callInfo) {
	q.mu.Lock()
	if ci.queued {
		q.unlink(ci)
	}
	q.mu.Unlock()
}

func (q *deadlineQueue) unlink(ci *callInfo) {
	if ci.prev == nil {
		q.head = ci.next
	} else {
		ci.prev.next = ci.next
	}
	if ci.next == nil {
		q.tail = ci.prev
	} else {
		ci.next.prev = ci.prev
	}
	ci.prev, ci.next, ci.queued = nil, nil, false
}

// arm sets the timer for deadline d. q.mu is held.
func (q *deadlineQueue) arm(d mono) {
	q.armed, q.isArmed = d, true
	wait := d - monoNow()
	if q.timer == nil {
		q.timer = time.AfterFunc(wait, q.fire)
		return
	}
	q.timer.Reset(wait)
}

// stop stops the timer of an empty queue, so that a shut-down experiment
// is not kept alive by a timer armed for a deadline that no longer matters.
func (q *deadlineQueue) stop() {
	q.mu.Lock()
	if q.head == nil && q.timer != nil {
		q.timer.Stop()
		q.isArmed = false
	}
	q.mu.Unlock()
}

// fire expires every call whose deadline has passed, outside the lock.
func (q *deadlineQueue) fire() {
	now := monoNow()
	var expired []*callInfo
	q.mu.Lock()
	q.isArmed = false
	for q.head != nil && q.head.deadline <= now {
		ci := q.head
		q.unlink(ci)
		expired = append(expired, ci)
	}
	if q.head != nil {
		q.arm(q.head.deadline)
	}
	q.mu.Unlock()
	expireAll(expired, q.expire)
}

// expireAll expires calls in order. Recording a timeout runs user code (a
// policy observer, a metric-attributes hook); if one calls runtime.Goexit,
// this goroutine ends once that call is recorded, and a new one expires the
// rest, so that no expired call is left unrecorded.
func expireAll(calls []*callInfo, expire func(*callInfo)) {
	next := 0
	defer func() {
		if next < len(calls) {
			go expireAll(calls[next:], expire)
		}
	}()
	for next < len(calls) {
		ci := calls[next]
		next++
		expire(ci)
	}
}
