package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"syscall"
	"time"
)

// client sends GraphQL requests as an HTTP client would.
type client struct{ hc *http.Client }

func newClient() *client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute, DisableCompression: true}
	return &client{hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// gqlReq is a prepared request body.
type gqlReq []byte

func newReq(query string, vars map[string]any) gqlReq {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err) // only static shapes are marshalled
	}
	return b
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResp struct {
	Status  int
	Data    json.RawMessage `json:"data"`
	Errors  []gqlError      `json:"errors"`
	Latency time.Duration   `json:"-"`
}

// err is the response's failure, nil for a clean 200 with data.
func (r *gqlResp) err() error {
	if r.Status != http.StatusOK {
		if len(r.Errors) > 0 {
			return fmt.Errorf("HTTP %d: %s", r.Status, r.Errors[0].Message)
		}
		return fmt.Errorf("HTTP %d", r.Status)
	}
	if len(r.Errors) > 0 {
		code, _ := r.Errors[0].Extensions["code"].(string)
		return fmt.Errorf("%s: %s", code, r.Errors[0].Message)
	}
	return nil
}

// do sends the request and times it from the first byte written to the
// last byte of the response read; decoding is not timed.
func (c *client) do(ctx context.Context, url, token, org string, body gqlReq) (*gqlResp, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if org != "" {
		req.Header.Set("X-Org-ID", org)
	}
	t0 := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	lat := time.Since(t0)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	out := &gqlResp{Status: resp.StatusCode, Latency: lat}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("HTTP %d, undecodable body: %w", resp.StatusCode, err)
	}
	out.Status, out.Latency = resp.StatusCode, lat
	return out, nil
}

// samples collects latencies and errors of one query and viewer.
type samples struct {
	lat    []time.Duration
	cpu    []time.Duration // process CPU time (user+system) spent during each request
	errors int
	first  []string // the first few error messages
}

func (s *samples) add(d time.Duration) { s.lat = append(s.lat, d) }

func (s *samples) fail(err error) {
	s.errors++
	if len(s.first) < 3 {
		s.first = append(s.first, err.Error())
	}
}

func (s *samples) merge(o *samples) {
	s.lat = append(s.lat, o.lat...)
	s.cpu = append(s.cpu, o.cpu...)
	s.errors += o.errors
	for _, m := range o.first {
		if len(s.first) < 3 {
			s.first = append(s.first, m)
		}
	}
}

// quantile is the nearest-rank quantile in milliseconds (0 when empty).
func quantile(lat []time.Duration, q float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(math.Ceil(q*float64(len(s)))) - 1
	k = min(max(k, 0), len(s)-1)
	return ms(s[k])
}

func mean(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	var t time.Duration
	for _, d := range lat {
		t += d
	}
	return ms(t) / float64(len(lat))
}

func maxOf(lat []time.Duration) float64 {
	var m time.Duration
	for _, d := range lat {
		m = max(m, d)
	}
	return ms(m)
}

// cpuTime is the process's CPU time so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(a/b*1000) / 1000
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
