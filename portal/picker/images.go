package picker

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"kqi/slurm"
)

// imagesTTL is how long the image store's listing is reused: images are
// added by administrators, rarely, and walking a store on every form would
// touch the shared filesystem for nothing.
const imagesTTL = time.Minute

// storeDepth is how deep a store is searched: registry/team/name/tag.
const storeDepth = 5

// Images lists the site's images in the runtime's image store (a
// Bubblewrap image root, Apptainer's ImageDir) as references the runtime
// accepts, sorted; none when the runtime has no store.
func (s *Service) Images(ctx context.Context) []string {
	s.imagesMu.Lock()
	defer s.imagesMu.Unlock()
	now := time.Now()
	if s.images != nil && now.Sub(s.imagesAt) < imagesTTL {
		return s.images
	}
	rt := s.Jobs.Cfg.Runtime
	var root string
	switch r := rt.(type) {
	case slurm.Bubblewrap:
		root = r.ImageRoot
	case slurm.Apptainer:
		root = r.ImageDir
	}
	list := []string{}
	if root != "" {
		for _, ref := range storeImages(root) {
			if rt.ValidateImage(ref) == nil {
				list = append(list, ref)
			}
		}
	}
	s.images, s.imagesAt = list, now
	return list
}

// storeImages finds images in a store laid out as name/tag: a directory
// holding usr/ is a root filesystem (a Bubblewrap image, an Apptainer
// sandbox), a file tag.sif a SIF. Names starting with "." are skipped
// (temporary pulls, recipes).
func storeImages(root string) []string {
	var refs []string
	root = filepath.Clean(root)
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(d.Name(), ".") || strings.Count(rel, string(filepath.Separator)) >= storeDepth {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name, tag := filepath.Dir(rel), d.Name()
		if name == "." {
			return nil
		}
		if !d.IsDir() {
			if t, ok := strings.CutSuffix(tag, ".sif"); ok && d.Type().IsRegular() {
				refs = append(refs, filepath.ToSlash(name)+":"+t)
			}
			return nil
		}
		if fi, err := os.Stat(filepath.Join(p, "usr")); err == nil && fi.IsDir() {
			refs = append(refs, filepath.ToSlash(name)+":"+tag)
			return filepath.SkipDir // a root filesystem holds no images
		}
		return nil
	})
	sort.Strings(refs)
	return refs
}
