// Package i18n translates every user-visible string. Pages and API errors
// name a message by key; catalogs (English and Japanese) give the text.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// Each language has its main catalog, catalog/{lang}.json, and may have
// per-area catalogs in catalog/{lang}/*.json, so features added side by side
// do not all edit one file. A key defined twice is a start-up panic.
//
//go:embed catalog
var catalogFiles embed.FS

// Default is the language used when nothing better is known.
const Default = "en"

// Languages are the supported UI languages, in display order.
var Languages = []string{"en", "ja"}

var catalogs = mustLoad()

func mustLoad() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range Languages {
		files := []string{"catalog/" + lang + ".json"}
		if more, err := fs.Glob(catalogFiles, "catalog/"+lang+"/*.json"); err == nil {
			files = append(files, more...)
		}
		m := map[string]string{}
		for _, name := range files {
			raw, err := catalogFiles.ReadFile(name)
			if err != nil {
				panic(err)
			}
			part := map[string]string{}
			if err := json.Unmarshal(raw, &part); err != nil {
				panic(fmt.Sprintf("i18n: catalog %s: %v", name, err))
			}
			for k, v := range part {
				if _, dup := m[k]; dup {
					panic(fmt.Sprintf("i18n: catalog %s: key %q is defined twice", name, k))
				}
				m[k] = v
			}
		}
		out[lang] = m
	}
	return out
}

// Supported reports whether lang has a catalog.
func Supported(lang string) bool { _, ok := catalogs[lang]; return ok }

// T returns the message key in lang, formatted with args. An unknown
// language falls back to English; an unknown key shows as the key itself so
// a gap is visible, and the catalog test catches it before release. Args
// are ignored by a message that takes none.
func T(lang, key string, args ...any) string {
	msg, ok := catalogs[lang][key]
	if !ok {
		msg, ok = catalogs[Default][key]
	}
	if !ok {
		msg = key
	}
	if len(args) > 0 && strings.Contains(msg, "%") {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// Has reports whether key exists in the given language's catalog.
func Has(lang, key string) bool { _, ok := catalogs[lang][key]; return ok }

// Keys lists the keys of a language's catalog, sorted.
func Keys(lang string) []string {
	keys := make([]string, 0, len(catalogs[lang]))
	for k := range catalogs[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FromAcceptLanguage picks the first supported language of an
// Accept-Language header, or Default.
func FromAcceptLanguage(header string) string {
	for _, part := range strings.Split(header, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if Supported(base) {
			return base
		}
	}
	return Default
}

// Cause is why a job waits or ended, in lang: the message of the cause
// code (catalog key "cause."+code) with its argument; "" for none.
func Cause(lang, code, arg string) string {
	if code == "" {
		return ""
	}
	return strings.TrimSpace(T(lang, "cause."+code, arg))
}
