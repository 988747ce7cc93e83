package picker

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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

// Images lists the site's images: those in the runtime's image store (a
// Bubblewrap image root, Apptainer's ImageDir), then, where the runtime
// pulls from registries (Apptainer), those the registered registries list
// to the user, all as references the runtime accepts.
func (s *Service) Images(ctx context.Context, userID int64) []string {
	list := s.storeImages()
	rr, ok := s.Jobs.Cfg.Runtime.(slurm.RegistryRuntime)
	if !ok || s.Sources == nil {
		return list
	}
	return append(slices.Clone(list), s.registryImages(ctx, userID, rr)...)
}

// storeImages is the image store's listing, cached for imagesTTL.
func (s *Service) storeImages() []string {
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
		for _, ref := range findImages(root) {
			if rt.ValidateImage(ref) == nil {
				list = append(list, ref)
			}
		}
	}
	s.images, s.imagesAt = list, now
	return list
}

// registryImages lists what each registered registry shows the user, with
// their token for it, cached per user for imagesTTL. A registry that does
// not answer or list is left out.
func (s *Service) registryImages(ctx context.Context, userID int64, rr slurm.RegistryRuntime) []string {
	s.imagesMu.Lock()
	if c, ok := s.regImages[userID]; ok && time.Since(c.at) < imagesTTL {
		s.imagesMu.Unlock()
		return c.refs
	}
	s.imagesMu.Unlock()
	regs, err := s.Sources.Registries(ctx)
	if err != nil {
		return nil
	}
	hosts := make([]string, len(regs))
	for i, r := range regs {
		hosts[i] = r.Host
	}
	rt := rr.WithRegistries(hosts)
	refs := []string{}
	for _, r := range regs {
		user, pass, err := s.Sources.ResolveRegistry(ctx, userID, r.Host+"/")
		if err != nil {
			continue
		}
		list, err := s.Registry.Images(ctx, r.Host, user, pass)
		if err != nil {
			continue
		}
		for _, img := range list {
			if ref := r.Host + "/" + img; rt.ValidateImage(ref) == nil {
				refs = append(refs, ref)
			}
		}
	}
	s.imagesMu.Lock()
	if s.regImages == nil {
		s.regImages = map[int64]cachedImages{}
	}
	s.regImages[userID] = cachedImages{refs: refs, at: time.Now()}
	s.imagesMu.Unlock()
	return refs
}

type cachedImages struct {
	refs []string
	at   time.Time
}

// findImages finds images in a store laid out as name/tag: a directory
// holding usr/ is a root filesystem (a Bubblewrap image, an Apptainer
// sandbox), a file tag.sif a SIF. Names starting with "." are skipped
// (temporary pulls, recipes).
func findImages(root string) []string {
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
