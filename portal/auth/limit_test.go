package auth

import (
	"testing"
	"time"
)

func TestFailureLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewFailureLimit(3, time.Minute)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if l.Blocked("a") {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("a")
	}
	if !l.Blocked("a") {
		t.Fatal("not blocked after 3 failures")
	}
	if l.Blocked("b") {
		t.Fatal("another client is blocked")
	}
	now = now.Add(61 * time.Second)
	if l.Blocked("a") {
		t.Fatal("still blocked after the window")
	}
}
