package config

import "kqi/storage"

// Identity is who something runs as on the cluster.
type Identity struct {
	// User is the Unix and Slurm user: the `sun` of the tokens slurmrestd
	// gets, the login on the login node (SSH backend and SFTP), and the
	// owner of the job's files, which the job must read.
	User string
	// Account is the Slurm account a job is charged to (--account); ""
	// leaves the user's default account.
	Account string
}

// ClusterIdentity is the one place that decides who runs what on the
// cluster (DESIGN: who a job runs as is one decision in one place). A
// tenant's jobs are submitted as the site's one cluster account,
// KQI_SLURM_USER, charged to the tenant's Slurm account when an
// administrator set one. A nil tenant is the portal's own identity, for
// what belongs to no tenant: the Slurm backend's connection, polling,
// partitions and the file store. Mapping a tenant to its own Unix account
// is a change to this function only.
func (c *Config) ClusterIdentity(t *storage.Tenant) Identity {
	id := Identity{User: c.SlurmUser}
	if t != nil {
		id.Account = t.SlurmAccount
	}
	return id
}
