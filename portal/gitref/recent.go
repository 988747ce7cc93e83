package gitref

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"kqi/portal/accounts"
)

// Has reports whether the repository has the branch or tag name, asking
// it once (an error: it did not answer, or refused the token).
func (l Lister) Has(ctx context.Context, acc accounts.GitAccess, name string) (bool, error) {
	refs, err := l.Refs(ctx, acc)
	if err != nil {
		return false, err
	}
	return hasRef(refs, name), nil
}

func hasRef(refs map[string]string, name string) bool {
	return refs["refs/heads/"+name] != "" || refs["refs/tags/"+name] != ""
}

// Recent is Has for a burst of submits of one model: a repository's
// answer is remembered for TTL, per URL and credential, so the server is
// asked once rather than once per submit. Only a "yes" is taken from
// memory: a branch the remembered answer lacks is asked again (it may
// have been pushed since), and a failure is not remembered.
type Recent struct {
	Lister Lister
	TTL    time.Duration
	Now    func() time.Time // time.Now when nil

	mu   sync.Mutex
	seen map[[32]byte]recentRefs
}

type recentRefs struct {
	refs map[string]string
	at   time.Time
}

// recentLimit bounds the memory: past it, the map starts afresh.
const recentLimit = 1000

// Has answers from a fresh remembered answer when it has name, and asks
// the repository otherwise.
func (r *Recent) Has(ctx context.Context, acc accounts.GitAccess, name string) (bool, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	// The key holds the credential only as part of a hash.
	key := sha256.Sum256([]byte(acc.URL + "\x00" + acc.Username + "\x00" + acc.Token))
	r.mu.Lock()
	got, ok := r.seen[key]
	r.mu.Unlock()
	if ok && now().Sub(got.at) < r.TTL && hasRef(got.refs, name) {
		return true, nil
	}
	refs, err := r.Lister.Refs(ctx, acc)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	if r.seen == nil || len(r.seen) >= recentLimit {
		r.seen = map[[32]byte]recentRefs{}
	}
	r.seen[key] = recentRefs{refs: refs, at: now()}
	r.mu.Unlock()
	return hasRef(refs, name), nil
}
