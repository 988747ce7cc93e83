// Package slurmtest holds what integration tests on the dev cluster share:
// the mark that keeps them out of the unit tier, and the lock on its GPUs.
package slurmtest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// LockGPUs gives the calling test the dev node's GPUs to itself until it
// ends. Tests of several packages (and test runs of other processes on the
// machine) fill the 4 fake GPUs to see jobs wait; without this they would
// queue behind each other and see "Priority" instead of "Resources".
func LockGPUs(t testing.TB) {
	t.Helper()
	// flock needs no write access, so any user's test can share the file.
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "kqi-slurm-gpu-test.lock"), os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
