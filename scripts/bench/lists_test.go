//go:build bench

package bench

import "testing"

func benchLists(t *testing.T, sc scale) {}
