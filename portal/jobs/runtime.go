package jobs

import (
	"context"

	"kqi/slurm"
)

// runtime is the container runtime for a job submitted now. One whose
// image names depend on the registered registries (Apptainer: a plain
// "registry.example.org/team/name:tag") gets their current hosts, since
// an administrator may register one at any time.
func (s *Service) runtime(ctx context.Context) (slurm.Runtime, error) {
	rt, ok := s.Cfg.Runtime.(slurm.RegistryRuntime)
	if !ok || s.Sources == nil {
		return s.Cfg.Runtime, nil
	}
	regs, err := s.Sources.Registries(ctx)
	if err != nil {
		return nil, err
	}
	hosts := make([]string, len(regs))
	for i, r := range regs {
		hosts[i] = r.Host
	}
	return rt.WithRegistries(hosts), nil
}
