package integration

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

// runStandInAgent is the agent's whisperer endpoint as the contract describes it, for one
// container: it answers only calls from the pod's IP carrying the instance secret
// (SW_SECRET, as `Authorization: Bearer …`), serves the configuration, holds the
// stop long-poll until the test drops a "stop" file, and records every state report, every
// batch and every byte it received in SW_DIR.
func runStandInAgent() int {
	dir := os.Getenv("SW_DIR")
	allowed := os.Getenv("SW_ALLOWED_IP")
	instance := os.Getenv("SW_INSTANCE")
	secret := os.Getenv("SW_SECRET")
	var mu sync.Mutex
	countOnly := os.Getenv("SW_COUNT_ONLY") == "1"
	counted := 0
	appendFile := func(name string, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			panic(err)
		}
		f.Write(b)
		f.Close()
	}
	config := map[string]any{
		"attachmentId": "att-1", "container": instance, "generation": 0,
		"target":        map[string]any{"namespace": "shop", "kind": "Deployment", "name": "web"},
		"pod":           map[string]any{"namespace": "shop", "name": "web-0"},
		"whisperer":     map[string]any{"id": "w1", "name": "itest", "image": nil, "captureFilter": os.Getenv("SW_FILTER"), "env": map[string]any{}},
		"captureFilter": os.Getenv("SW_FILTER"), "expiresAt": nil, "stop": false, "stopReason": nil,
		"capture": map[string]any{"bodyCapBytes": 65536, "redactHeaders": []string{"x-api-key"},
			"maxExchangesPerSecond": envInt("SW_MAX_EPS", 1_000_000), "maxCpuCores": envInt("SW_MAX_CPU", 8), "flushIntervalMs": 200},
	}
	base := "/v1/whisperers/" + instance
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		if v != nil {
			json.NewEncoder(w).Encode(v)
		}
	}
	mux.HandleFunc("GET "+base, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, config) })
	mux.HandleFunc("GET "+base+"/stop", func(w http.ResponseWriter, r *http.Request) {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
				reply(w, 200, map[string]any{"stop": true, "reason": "detached"})
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		reply(w, 200, map[string]any{"stop": false, "reason": nil})
	})
	mux.HandleFunc("POST "+base+"/state", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 8193))
		if len(b) > 8192 {
			reply(w, 413, map[string]any{"error": "too large"})
			return
		}
		appendFile("states.jsonl", append(bytes.TrimSpace(b), '\n'))
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST "+base+"/traffic", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			reply(w, 415, map[string]any{"error": "not JSON"})
			return
		}
		b, _ := io.ReadAll(io.LimitReader(r.Body, exchange.MaxBatchBytes+1))
		if len(b) > exchange.MaxBatchBytes {
			appendFile("invalid.log", []byte("413\n"))
			reply(w, 413, map[string]any{"error": "over 1 MiB"})
			return
		}
		if countOnly {
			// The benchmark: count, do not keep or validate (the whisperer's encoder writes
			// `{"id":"` once per exchange; inside strings the quotes would be escaped).
			n := bytes.Count(b, []byte(`{"id":"`))
			mu.Lock()
			counted += n
			os.WriteFile(filepath.Join(dir, "count"), []byte(fmt.Sprint(counted)), 0o644)
			mu.Unlock()
			reply(w, 202, map[string]any{"accepted": n})
			return
		}
		var batch exchange.Batch
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&batch); err != nil || batch.Exchanges == nil || batch.Flows == nil ||
			len(batch.Exchanges) > exchange.MaxExchangesPerBatch {
			appendFile("invalid.log", []byte(fmt.Sprintf("%v %s\n", err, b)))
			reply(w, 400, map[string]any{"error": fmt.Sprint(err)})
			return
		}
		appendFile("batches.jsonl", append(bytes.TrimSpace(b), '\n'))
		var raw struct {
			Exchanges []json.RawMessage `json:"exchanges"`
			Flows     []json.RawMessage `json:"flows"`
		}
		json.Unmarshal(b, &raw)
		for _, e := range raw.Exchanges {
			appendFile("exchanges.jsonl", append(append([]byte(nil), e...), '\n'))
		}
		for _, f := range raw.Flows {
			appendFile("flows.jsonl", append(append([]byte(nil), f...), '\n'))
		}
		reply(w, 202, map[string]any{"accepted": len(batch.Exchanges)})
	})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every byte that left the whisperer, for the redaction check.
		body, _ := io.ReadAll(r.Body)
		if countOnly {
			r.Body = io.NopCloser(bytes.NewReader(body))
			mux.ServeHTTP(w, r)
			return
		}
		var dump bytes.Buffer
		fmt.Fprintf(&dump, "%s %s\n", r.Method, r.URL)
		r.Header.Write(&dump)
		dump.Write(body)
		dump.WriteByte('\n')
		appendFile("raw.log", dump.Bytes())
		r.Body = io.NopCloser(bytes.NewReader(body))
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if host != allowed {
			appendFile("forbidden.log", []byte(r.RemoteAddr+"\n"))
			reply(w, 403, map[string]any{"error": "forbidden: " + host})
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+secret)) != 1 {
			appendFile("forbidden.log", []byte("wrong instance secret from "+r.RemoteAddr+"\n"))
			reply(w, 403, map[string]any{"error": "forbidden: wrong instance secret"})
			return
		}
		mux.ServeHTTP(w, r)
	})
	if a := os.Getenv("SW_DNS_LISTEN"); a != "" {
		if err := serveDNS(a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	l, err := net.Listen("tcp", os.Getenv("SW_AGENT_LISTEN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.WriteFile(filepath.Join(dir, "agent.ready"), nil, 0o644)
	return serve(l, handler)
}

func serve(l net.Listener, h http.Handler) int {
	if err := (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func envInt(name string, def int) int {
	var v int
	if _, err := fmt.Sscan(os.Getenv(name), &v); err != nil {
		return def
	}
	return v
}
