package slurm

// Check reports whether slurmrestd can be sent the spec: some #SBATCH
// options that sbatch reads are refused by v0.0.38, so a form can say so
// before anything is recorded.
func (c *REST) Check(spec JobSpec) error {
	_, err := v0038JobDesc(spec, c.cfg.Environment)
	return err
}

// Check accepts every spec Validate accepts: sbatch reads the script's
// #SBATCH lines itself.
func (c *SSH) Check(spec JobSpec) error { return nil }
