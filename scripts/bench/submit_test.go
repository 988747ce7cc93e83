//go:build bench

package bench

import "testing"

func benchSubmit(t *testing.T, sc scale) {}
