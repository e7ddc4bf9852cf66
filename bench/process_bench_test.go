package bench

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"offboard/sandbox"
)

// BenchmarkProcess builds the real binary and runs `offboard run` as a
// process against a simulated org started here, with the production
// defaults untouched (--rate 10, --concurrency 5, 10 jobs) and nothing
// scaled: jobs take OFFBOARD_BENCH_PROCESS_JOB (default 5s, the runner's
// first guess) and every API answer 200ms. N is OFFBOARD_BENCH_PROCESS_N
// (default 100). It reports the process's wall time against the ideal
// ceil(N/10)·D, the API calls per user, and the process's peak resident
// memory (VmHWM, sampled; see watchHWM). Every user must end deleted
// (exit 0).
func BenchmarkProcess(b *testing.B) {
	n := envInt(b, "OFFBOARD_BENCH_PROCESS_N", 100)
	d := 5 * time.Second
	if v := os.Getenv("OFFBOARD_BENCH_PROCESS_JOB"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			b.Fatalf("OFFBOARD_BENCH_PROCESS_JOB=%q: want a positive duration", v)
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		b.Skip("no go command to build the binary with")
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "offboard")
	if out, err := exec.Command(goTool, "build", "-o", bin, "offboard").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	sheet := writeSheet(b, n)
	best := ideal(n, 10, d)
	var wall time.Duration
	var calls int
	var rss int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		srv, err := sandbox.Start(sandbox.Config{Seed: seed(n), JobDuration: d,
			ConcurrencyLimit: orgConcurrency, Latency: prodLatency})
		if err != nil {
			b.Fatal(err)
		}
		id, secret, refresh := srv.Credentials()
		out := filepath.Join(dir, "results-"+strconv.Itoa(i)+".xlsx")
		cmd := exec.Command(bin, "run", "--input", sheet, "--output", out, "--yes", "--accounts-url", srv.URL(),
			"--max-deletes", strconv.Itoa(n), "--log-format", "json", "--log-level", "warn")
		cmd.Env = append(os.Environ(), "ZOHO_CLIENT_ID="+id,
			"ZOHO_CLIENT_SECRET="+secret, "ZOHO_REFRESH_TOKEN="+refresh)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b.StartTimer()
		start := time.Now()
		err = cmd.Start()
		var hwm int64
		if err == nil {
			stopWatch := watchHWM(cmd.Process.Pid, &hwm)
			err = cmd.Wait()
			stopWatch()
		}
		took := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("offboard run: %v\n%s", err, stderr.Bytes())
		}
		for u := range n {
			if got, _ := srv.User(leaverID(u)); got["status"] != sandbox.StatusDeleted {
				b.Fatalf("user %s is %v after the run, want deleted", leaverID(u), got["status"])
			}
		}
		wall += took
		calls += countCalls(srv).total
		rss = max(rss, hwm)
		srv.Close()
		b.StartTimer()
	}
	runs := float64(b.N)
	b.ReportMetric(float64(wall)/runs/float64(best), "x-ideal")
	b.ReportMetric(float64(wall)/runs/1e9, "s-wall")
	b.ReportMetric(float64(best)/1e9, "s-ideal")
	b.ReportMetric(float64(calls)/runs/float64(n), "calls/user")
	if rss > 0 {
		b.ReportMetric(float64(rss)/1024, "MiB-peak-rss")
	}
}

// watchHWM samples the peak resident memory (VmHWM, KiB) of process pid
// every 10ms into *hwm until the returned function is called. VmHWM is a
// high-water mark, so a sample misses only a peak in the last 10ms of the
// process. (getrusage's ru_maxrss would hold this benchmark's own memory:
// Linux carries the parent's high-water mark into a child started by vfork
// and exec.)
func watchHWM(pid int, hwm *int64) (stop func()) {
	status := "/proc/" + strconv.Itoa(pid) + "/status"
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v, ok := readHWM(status); ok {
				*hwm = max(*hwm, v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func readHWM(status string) (int64, bool) {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
