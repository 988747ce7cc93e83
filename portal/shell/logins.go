package shell

import (
	"context"
	"strconv"
	"strings"

	"kqi/portal/jobs"
	"kqi/storage"
)

// loginKinds are the kinds of job the SSH endpoint opens, named by the
// login's prefix: `ssh -p 2022 training-42@portal`. A preprocessing task
// is named by its history entry, as its page shows it: preprocess-{entry}.
var loginKinds = []jobs.Kind{jobs.Training, jobs.Inference, jobs.Preprocess}

// lookupJob finds the job a login names among the user's tenants.
func lookupJob(ctx context.Context, st *storage.Store, kind jobs.Kind, userID, id int64) (*storage.Job, error) {
	if kind.Name() == jobs.Preprocess.Name() {
		return st.HistoryJobOfMember(ctx, userID, id)
	}
	return st.JobOfMember(ctx, userID, id)
}

// ParseLogin reads an SSH login name, "{kind}-{job id}".
func ParseLogin(login string) (jobs.Kind, int64, bool) {
	cut := strings.LastIndexByte(login, '-')
	if cut < 0 {
		return nil, 0, false
	}
	id, err := strconv.ParseInt(login[cut+1:], 10, 64)
	if err != nil || id <= 0 || login[cut+1] == '+' {
		return nil, 0, false
	}
	for _, k := range loginKinds {
		if k.Name() == login[:cut] {
			return k, id, true
		}
	}
	return nil, 0, false
}

// Login is the SSH login name of a job, for pages that show the command.
func Login(kind string, id int64) string {
	return kind + "-" + strconv.FormatInt(id, 10)
}

// Offers reports whether the SSH endpoint and the page's terminal open
// shells into jobs of kind.
func Offers(kind string) bool {
	for _, k := range loginKinds {
		if k.Name() == kind {
			return true
		}
	}
	return false
}
