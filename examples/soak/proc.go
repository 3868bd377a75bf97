package main

import (
	"bytes"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// resources is what the sampler saw during one phase.
type resources struct {
	MaxGoroutines int    `json:"max_goroutines"`
	RSSStart      uint64 `json:"rss_start_bytes"`
	RSSEnd        uint64 `json:"rss_end_bytes"`
	RSSMax        uint64 `json:"rss_max_bytes"`
	HeapStart     uint64 `json:"heap_start_bytes"`
	HeapEnd       uint64 `json:"heap_end_bytes"`
	HeapMax       uint64 `json:"heap_max_bytes"`
	GCCycles      uint64 `json:"gc_cycles"`
	PageFaults    uint64 `json:"minor_page_faults"`

	// otherTicks is the CPU time, in clock ticks, that the machine spent
	// on anything but this process (other processes, the host's steal).
	otherTicks uint64
	// osWait is how long this process's threads waited, runnable, for a
	// CPU in the kernel's run queues (run_delay in schedstat).
	osWait time.Duration
}

// add folds a later slice of the same phase into r.
func (r *resources) add(o resources) {
	r.MaxGoroutines = max(r.MaxGoroutines, o.MaxGoroutines)
	r.RSSEnd, r.RSSMax = o.RSSEnd, max(r.RSSMax, o.RSSMax)
	r.HeapEnd, r.HeapMax = o.HeapEnd, max(r.HeapMax, o.HeapMax)
	r.GCCycles += o.GCCycles
	r.PageFaults += o.PageFaults
	r.otherTicks += o.otherTicks
	r.osWait += o.osWait
}

// runDelay returns the time all of this process's threads have spent
// runnable but waiting for a CPU, from /proc/self/task/*/schedstat (its
// second field, in nanoseconds); 0 where that is not available. Threads
// that exited are not counted: the Go runtime rarely ends one.
func runDelay() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var sum uint64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			sum += n
		}
	}
	return time.Duration(sum)
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// busyTicks returns the clock ticks the whole machine and this process have
// spent busy, from /proc/stat and /proc/self/stat, and this process's minor
// page faults so far; zeros off Linux.
func busyTicks() (machine, self, faults uint64) {
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := bytes.Cut(b, []byte("\n"))
		f := strings.Fields(string(line)) // cpu user nice system idle iowait irq softirq steal ...
		for _, i := range []int{1, 2, 3, 6, 7, 8} {
			if i < len(f) {
				n, _ := strconv.ParseUint(f[i], 10, 64)
				machine += n
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			f := strings.Fields(string(b[i+1:])) // state is field 3; minflt 10, utime 14, stime 15
			if len(f) > 12 {
				faults, _ = strconv.ParseUint(f[7], 10, 64)
				u, _ := strconv.ParseUint(f[11], 10, 64)
				s, _ := strconv.ParseUint(f[12], 10, 64)
				self = u + s
			}
		}
	}
	return machine, self, faults
}

// sampler reads the goroutine count, the resident set size and the heap
// every period on its own goroutine. It uses runtime/metrics rather than
// runtime.ReadMemStats, which stops the world and would disturb the very
// latencies being measured, and reads /proc/self/status into a reused
// buffer.
type sampler struct {
	period time.Duration
	status *os.File
	buf    []byte
	ms     []metrics.Sample

	mu    sync.Mutex
	res   resources
	gc0   uint64
	cpu0  [3]uint64 // busyTicks at start
	wait0 time.Duration
	stop  chan struct{}
	done  chan struct{}
}

const (
	metricHeap = "/memory/classes/heap/objects:bytes" // live and not yet swept objects
	metricGC   = "/gc/cycles/total:gc-cycles"
)

func newSampler(period time.Duration) *sampler {
	s := &sampler{period: period, buf: make([]byte, 8<<10)}
	s.status, _ = os.Open("/proc/self/status") // nil off Linux: RSS reads as 0
	s.ms = []metrics.Sample{{Name: metricHeap}, {Name: metricGC}}
	return s
}

// close releases the sampler's file.
func (s *sampler) close() {
	if s.status != nil {
		s.status.Close()
	}
}

// rss returns VmRSS in bytes, or 0 if it cannot be read.
func (s *sampler) rss() uint64 {
	if s.status == nil {
		return 0
	}
	n, _ := s.status.ReadAt(s.buf, 0)
	b := s.buf[:n]
	i := bytes.Index(b, []byte("VmRSS:"))
	if i < 0 {
		return 0
	}
	b = b[i+len("VmRSS:"):]
	if j := bytes.IndexByte(b, '\n'); j >= 0 {
		b = b[:j]
	}
	kb, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(b), []byte(" kB"))), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}

// read returns the heap in bytes and the GC cycle count.
func (s *sampler) read() (heap, gcs uint64) {
	metrics.Read(s.ms)
	return s.ms[0].Value.Uint64(), s.ms[1].Value.Uint64()
}

// start begins a phase: it takes the start values and samples until end.
func (s *sampler) start() {
	rss := s.rss()
	heap, gcs := s.read()
	s.mu.Lock()
	s.res = resources{
		MaxGoroutines: runtime.NumGoroutine(),
		RSSStart:      rss, RSSMax: rss,
		HeapStart: heap, HeapMax: heap,
	}
	s.gc0 = gcs
	s.cpu0[0], s.cpu0[1], s.cpu0[2] = busyTicks()
	s.wait0 = runDelay()
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.mu.Unlock()
	go s.loop()
}

func (s *sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(s.period)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		g, rss := runtime.NumGoroutine(), s.rss()
		heap, _ := s.read()
		s.mu.Lock()
		s.res.MaxGoroutines = max(s.res.MaxGoroutines, g)
		s.res.RSSMax = max(s.res.RSSMax, rss)
		s.res.HeapMax = max(s.res.HeapMax, heap)
		s.mu.Unlock()
	}
}

// end stops sampling and returns what the phase used.
func (s *sampler) end() resources {
	close(s.stop)
	<-s.done
	rss := s.rss()
	heap, gcs := s.read()
	machine, self, faults := busyTicks()
	wait := runDelay()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.res
	r.RSSEnd, r.RSSMax = rss, max(r.RSSMax, rss)
	r.HeapEnd, r.HeapMax = heap, max(r.HeapMax, heap)
	r.GCCycles = gcs - s.gc0
	r.osWait = max(0, wait-s.wait0)
	r.PageFaults = faults - s.cpu0[2]
	if dm, ds := machine-s.cpu0[0], self-s.cpu0[1]; dm > ds {
		r.otherTicks = dm - ds
	}
	return r
}
