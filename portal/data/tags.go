package data

import (
	"slices"
	"strings"
	"unicode/utf8"

	"kqi/portal/refusal"
)

// ParseTags reads tags as typed: comma-separated, each trimmed, empty and
// repeated ones dropped, order kept. It refuses more than MaxTags tags or
// a tag longer than MaxTagLen; the tags come back even then, so a form can
// show what was typed.
func ParseTags(s string) ([]string, error) {
	tags := appendTags(nil, s)
	var bad refusal.Fields
	checkTags(&bad, tags)
	return tags, bad.Err()
}

// appendTags adds the tags of one comma-separated value that are not
// already there (the API may send the field more than once).
func appendTags(tags []string, s string) []string {
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

func checkTags(bad *refusal.Fields, tags []string) {
	if len(tags) > MaxTags {
		bad.Add("tags", "data.too_many_tags")
		return
	}
	for _, t := range tags {
		if utf8.RuneCountInString(t) > MaxTagLen || !utf8.ValidString(t) {
			bad.Add("tags", "data.tag_too_long", t)
		}
	}
}
