package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// runLoad makes keep-alive GETs at a fixed rate over a fixed number of connections (wrk
// has no rate option and wrk2 is not packaged): SW_URL, SW_RATE per second, SW_SECONDS,
// SW_CONNS. It prints {"requests", "errors", "seconds"}.
func runLoad() int {
	url := os.Getenv("SW_URL")
	rate, secs, conns := envInt("SW_RATE", 10000), envInt("SW_SECONDS", 10), envInt("SW_CONNS", 50)
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var ok, failed atomic.Int64
	interval := time.Duration(float64(time.Second) * float64(conns) / float64(rate))
	start := time.Now()
	end := start.Add(time.Duration(secs) * time.Second)
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			next := start.Add(interval * time.Duration(i) / time.Duration(conns))
			for next.Before(end) {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(interval)
				resp, err := client.Get(url)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}(i)
	}
	wg.Wait()
	b, _ := json.Marshal(map[string]any{"requests": ok.Load(), "errors": failed.Load(), "seconds": time.Since(start).Seconds()})
	fmt.Println(string(b))
	return 0
}
