// Workload app for scripts/record-traces in Go. Same WORKLOAD names and knobs as app.js
// (steady, bursty, cache, batch, leak, steps, traffic); run with GOGC / GOMEMLIMIT set by the
// recorder. Standard library only.
package main

import (
	"math"
	"math/rand"
	"os"
	"strconv"
	"time"
)

func env(k string, d float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
		return v
	}
	return d
}

func touched(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		b[i] = 1
	}
	return b
}

var sink int

func main() {
	workload := os.Getenv("WORKLOAD")
	warmup, warmMiB := env("WARMUP", 120), env("WARM_MIB", 40)
	garbageKiB, leakKiB := env("GARBAGE_KIB_S", 4096), env("LEAK_KIB_S", 0)
	leakStart := env("LEAK_START", warmup)
	stepMiB, stepEvery := env("STEP_MIB", 16), env("STEP_EVERY", 150)
	period, cacheMiB := env("TRAFFIC_PERIOD", 240), env("CACHE_MIB", 32)
	batchEvery, batchMiB, batchHold := env("BATCH_EVERY", 120), env("BATCH_MIB", 40), env("BATCH_HOLD", 30)
	t0 := time.Now()
	var warm, leaked, batch [][]byte
	cache := map[int][]byte{}
	var order []int
	leakDebt, lastStep := 0.0, 0.0
	for range time.Tick(100 * time.Millisecond) {
		t := time.Since(t0).Seconds()
		load := 1.0
		switch workload {
		case "bursty":
			load = 0.5 + rand.Float64()
			if rand.Float64() < 0.1 {
				load = 4 + 4*rand.Float64()
			}
		case "traffic":
			load = 1 + 0.9*math.Sin(2*math.Pi*t/period)
		}
		for k := 0.0; k < garbageKiB*load/10; k += 4 {
			g := touched(4096)
			sink += int(g[0])
		}
		if t <= warmup && float64(len(warm))*256 < warmMiB*1024 {
			want := int(math.Min(warmMiB*4, math.Ceil(t/math.Max(warmup, 1)*warmMiB*4)))
			for len(warm) < want {
				warm = append(warm, touched(256*1024))
			}
		}
		if (workload == "leak" || workload == "traffic") && t >= leakStart {
			leakDebt += leakKiB * load / 10
			for leakDebt >= 16 {
				leaked = append(leaked, touched(16*1024))
				leakDebt -= 16
			}
		}
		if workload == "steps" && t >= leakStart && t-lastStep >= stepEvery {
			lastStep = t
			for k := 0; k < int(stepMiB*4); k++ {
				leaked = append(leaked, touched(256*1024))
			}
		}
		if workload == "cache" {
			for k := 0; k < 8; k++ {
				key := rand.Intn(1000000)
				if _, ok := cache[key]; !ok {
					order = append(order, key)
				}
				cache[key] = touched(4096)
				for len(cache)*4 > int(cacheMiB*1024) {
					delete(cache, order[0])
					order = order[1:]
				}
			}
		}
		if workload == "batch" && t > warmup {
			phase := math.Mod(t-warmup, batchEvery)
			if phase < batchHold && float64(len(batch))*256 < batchMiB*1024 {
				batch = append(batch, touched(256*1024))
			}
			if phase >= batchHold && len(batch) > 0 {
				batch = nil
			}
		}
	}
}
