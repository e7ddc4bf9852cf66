// Package bench holds offboard's end-to-end benchmarks: whole offboardings
// run against the simulated org over real HTTP (makespan against the ideal
// that Zoho's 10-job limit allows, API calls per user, a 429 storm, another
// admin's jobs), the naive scripts they are compared with, and the real
// binary run as a process. It has no code of its own; BENCHMARKS.md at the
// repository root records the figures and the commands that produce them.
//
// The benchmarks run only under go test -bench; go test alone runs none of
// them and spends no time here.
package bench
