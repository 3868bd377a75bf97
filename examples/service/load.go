package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/dualrun/dualrun/examples/service/shipping"
)

// Bounds of the load generator.
const (
	maxRequests    = 1_000_000
	maxRate        = 1000 // requests per second
	maxDuration    = time.Hour
	maxConcurrency = 64
)

// loadConfig is what the load generator sends, where, and how fast.
type loadConfig struct {
	target      *url.URL      // the service's base URL, on a loopback address
	requests    int           // the first requests of the known input set
	rate        float64       // requests per second, after the first
	duration    time.Duration // the most the load may take
	concurrency int           // requests in flight at most
	warmup      time.Duration // pause after the first request
}

// loadSummary is what the load generator did, printed as one JSON line.
type loadSummary struct {
	// Sent is the number of requests that got a response.
	Sent int `json:"sent"`
	// Statuses counts responses by HTTP status code.
	Statuses map[string]int `json:"statuses"`
	// Failed counts requests that got no response.
	Failed int `json:"failed"`
	// Complete reports whether every request was sent before the duration
	// ran out.
	Complete bool `json:"complete"`
	// Seconds is the time the load took.
	Seconds float64 `json:"seconds"`
}

// parseTarget checks that target is an http URL of a loopback address: the
// load generator sends traffic to this machine only.
func parseTarget(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("target %q: want http://127.0.0.1:PORT", target)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("target %q: the load generator sends to loopback addresses only (127.0.0.0/8, ::1, localhost)", target)
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("target %q: want an explicit port", target)
	}
	u.Path = ""
	return u, nil
}

// check validates the bounds of c.
func (c loadConfig) check() error {
	switch {
	case c.target == nil:
		return errors.New("load: no target")
	case c.requests < 1 || c.requests > maxRequests:
		return fmt.Errorf("load: -n %d: want 1 to %d requests", c.requests, maxRequests)
	case !(c.rate > 0 && c.rate <= maxRate): // also rejects NaN
		return fmt.Errorf("load: -rate %v: want more than 0 and at most %d requests per second", c.rate, maxRate)
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("load: -duration %v: want more than 0 and at most %v", c.duration, maxDuration)
	case c.concurrency < 1 || c.concurrency > maxConcurrency:
		return fmt.Errorf("load: -concurrency %d: want 1 to %d", c.concurrency, maxConcurrency)
	case c.warmup < 0 || c.warmup > time.Minute:
		return fmt.Errorf("load: -warmup %v: want 0 to 1m", c.warmup)
	}
	return nil
}

// runLoad sends the first c.requests requests of the known input set to the
// service: the first one alone, then, after c.warmup, the others at c.rate
// per second with at most c.concurrency in flight. It stops when all are
// sent, when c.duration has passed or when ctx ends, and returns what it did.
func runLoad(ctx context.Context, c loadConfig, client *http.Client) (loadSummary, error) {
	if err := c.check(); err != nil {
		return loadSummary{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	start := time.Now()
	inputs := shipping.Inputs(c.requests)
	endpoint := c.target.JoinPath(quotePath).String()

	var (
		mu  sync.Mutex
		sum = loadSummary{Statuses: map[string]int{}}
	)
	send := func(req shipping.Request) {
		code, err := post(ctx, client, endpoint, req)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			sum.Failed++
			return
		}
		sum.Sent++
		sum.Statuses[strconv.Itoa(code)]++
	}
	finish := func() loadSummary {
		mu.Lock()
		defer mu.Unlock()
		sum.Complete = sum.Sent+sum.Failed == len(inputs) && ctx.Err() == nil
		sum.Seconds = time.Since(start).Seconds()
		return sum
	}

	// The first request alone, then the pause: a scrape in the pause sees
	// every series of the experiment, at zero but for one match.
	send(inputs[0])
	if !sleep(ctx, c.warmup) {
		return finish(), nil
	}

	work := make(chan shipping.Request)
	var wg sync.WaitGroup
	for range c.concurrency {
		wg.Go(func() {
			for req := range work {
				send(req)
			}
		})
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / c.rate))
	defer tick.Stop()
dispatch:
	for _, req := range inputs[1:] {
		select {
		case <-ctx.Done():
			break dispatch
		case <-tick.C:
		}
		select {
		case <-ctx.Done():
			break dispatch
		case work <- req:
		}
	}
	close(work)
	wg.Wait()
	return finish(), nil
}

// post sends one quote request and returns the response's status code.
func post(ctx context.Context, client *http.Client, endpoint string, req shipping.Request) (int, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(hreq)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
