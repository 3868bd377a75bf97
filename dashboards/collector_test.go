package dashboards_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// collectorDir is the generated Collector module.
const collectorDir = "otelcol"

// collectorSources are the files whose content names the cached binary.
func collectorSources() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(collectorDir, "*.go"))
	if err != nil {
		return nil, err
	}
	files = append(files,
		filepath.Join(collectorDir, "builder-config.yaml"),
		filepath.Join(collectorDir, "go.mod"),
		filepath.Join(collectorDir, "go.sum"))
	slices.Sort(files)
	return files, nil
}

// collectorHash is a hash of the manifest and the generated module.
func collectorHash() (string, error) {
	files, err := collectorSources()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// collectorBinary returns the Collector, built once per content of
// otelcol/ into the user's cache directory and reused after that.
func collectorBinary(ctx context.Context, t *testing.T, goBin string) string {
	t.Helper()
	hash, err := collectorHash()
	if err != nil {
		t.Fatalf("hash of the Collector's sources: %v", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = t.TempDir() // no cache directory: build for this run only
	}
	dir := filepath.Join(cache, "dualrun", "otelcol-"+hash)
	bin := filepath.Join(dir, "dualrun-otelcol")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		t.Logf("Collector: cached %s", bin)
		return bin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Build to a temporary name and rename: a concurrent run sees the
	// binary whole or not at all.
	tmp := fmt.Sprintf("%s.tmp-%d", bin, os.Getpid())
	abs, err := filepath.Abs(collectorDir)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", tmp, ".")
	cmd.Dir = abs
	out, err := e2e.Run(ctx, t, "go build (Collector)", cmd)
	if err != nil {
		_ = os.Remove(tmp)
		t.Fatalf("building the Collector: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("Collector: built in %v, cached at %s", time.Since(begin).Round(time.Second), bin)
	return bin
}

// collector is a running Collector.
type collector struct {
	proc        *e2e.Process
	otlpURL     string // base URL of the OTLP/HTTP receiver
	metricsURL  string // the Prometheus exporter's scrape endpoint
	tracesFile  string
	metricsFile string
}

// startCollector starts the Collector on free loopback ports, with a
// temporary configuration and output directory, and waits until its
// Prometheus exporter answers.
func startCollector(ctx context.Context, t *testing.T, bin string) *collector {
	t.Helper()
	dir := t.TempDir()
	otlpPort, promPort := e2e.FreePort(t), e2e.FreePort(t)
	c := &collector{
		otlpURL:     "http://127.0.0.1:" + strconv.Itoa(otlpPort),
		metricsURL:  "http://127.0.0.1:" + strconv.Itoa(promPort) + "/metrics",
		tracesFile:  filepath.Join(dir, "traces.jsonl"),
		metricsFile: filepath.Join(dir, "metrics.jsonl"),
	}
	cfg := map[string]any{
		"receivers": map[string]any{
			"otlp": map[string]any{"protocols": map[string]any{
				"http": map[string]any{"endpoint": "127.0.0.1:" + strconv.Itoa(otlpPort)},
			}},
		},
		"exporters": map[string]any{
			"file/traces":  map[string]any{"path": c.tracesFile},
			"file/metrics": map[string]any{"path": c.metricsFile},
			"prometheus":   map[string]any{"endpoint": "127.0.0.1:" + strconv.Itoa(promPort)},
		},
		"service": map[string]any{
			"telemetry": map[string]any{
				"logs":    map[string]any{"level": "warn"},
				"metrics": map[string]any{"level": "none"},
			},
			"pipelines": map[string]any{
				"traces":  map[string]any{"receivers": []any{"otlp"}, "exporters": []any{"file/traces"}},
				"metrics": map[string]any{"receivers": []any{"otlp"}, "exporters": []any{"file/metrics", "prometheus"}},
			},
		},
	}
	path := filepath.Join(dir, "otelcol.yaml")
	e2e.WriteYAML(t, path, cfg)
	cmd := exec.Command(bin, "--config=file:"+path)
	cmd.Dir = dir
	c.proc = e2e.Start(t, "otelcol", cmd)

	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	e2e.Eventually(ctx, t, 30*time.Second, "Collector up", func(ctx context.Context) error {
		if done, err := c.proc.Exited(); done {
			t.Fatalf("otelcol exited: %v", err)
		}
		_, err := c.scrape(ctx, client)
		return err
	})
	return c
}

// scrape reads the Collector's Prometheus exporter.
func (c *collector) scrape(ctx context.Context, client *http.Client) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", c.metricsURL, resp.Status)
	}
	return body, nil
}

// readJSONLines calls f with each line of the file exporter's output.
func readJSONLines(path string, f func(line []byte) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := f(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// readTraces returns every span batch the Collector wrote. A line still
// being written fails to parse: the caller polls again.
func readTraces(path string) ([]ptrace.Traces, error) {
	var out []ptrace.Traces
	var u ptrace.JSONUnmarshaler
	err := readJSONLines(path, func(line []byte) error {
		td, err := u.UnmarshalTraces(line)
		if err != nil {
			return err
		}
		out = append(out, td)
		return nil
	})
	return out, err
}

// readMetrics returns every metric batch the Collector wrote.
func readMetrics(path string) ([]pmetric.Metrics, error) {
	var out []pmetric.Metrics
	var u pmetric.JSONUnmarshaler
	err := readJSONLines(path, func(line []byte) error {
		md, err := u.UnmarshalMetrics(line)
		if err != nil {
			return err
		}
		out = append(out, md)
		return nil
	})
	return out, err
}
