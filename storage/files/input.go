package files

import (
	"fmt"
	"strconv"
	"strings"
)

// InputFile is one stored file of a datum that a job reads.
type InputFile struct {
	// Area is the dataset area ("training", "validation", "testing"), or ""
	// for a job on a single datum (a preprocess run).
	Area   string
	DataID int64
	Name   string // the file's name as the user gave it
	Path   string // where the file is stored, relative to the FS root
}

// InputLinks returns the links that lay files out under inputDir (relative
// to the root) as the job sees them at /kqi/input: {area}/{dataId}/{name}
// for a dataset, {dataId}/{name} for a single datum. Pass the result to
// Stage. Names are checked with CheckName, so a stored name can never place
// a link outside the datum's directory.
func InputLinks(inputDir string, files []InputFile) ([]Link, error) {
	if err := checkPath(inputDir, false); err != nil {
		return nil, fmt.Errorf("files: input dir: %w", err)
	}
	links := make([]Link, 0, len(files))
	for _, f := range files {
		// A name may be a path below the datum ("sub/a.png"): each part is
		// checked on its own.
		parts := append([]string{strconv.FormatInt(f.DataID, 10)}, strings.Split(f.Name, "/")...)
		if f.Area != "" {
			parts = append([]string{f.Area}, parts...)
		}
		rel, err := Join(parts...)
		if err != nil {
			return nil, fmt.Errorf("files: input of datum %d: %w", f.DataID, err)
		}
		links = append(links, Link{From: f.Path, To: inputDir + "/" + rel})
	}
	return links, nil
}
