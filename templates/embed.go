// Package templates holds the portal's HTML templates and static assets,
// embedded into the binary so a deployment is one file.
package templates

import "embed"

// FS has layout.html, partials/*.html (parts several pages share),
// pages/*.html and static/*.
//
//go:embed layout.html partials/*.html pages/*.html static/*
var FS embed.FS
