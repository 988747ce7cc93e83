package picker

import (
	"context"
	"strconv"

	"kqi/slurm"
)

// Node is what one node of a partition has, the GPUs free on the
// partition's nodes right now, and the most CPUs and memory free on any
// one of them right now (a job of KQI runs on one node).
type Node struct {
	CPUs         int    `json:"cpus"`
	MemoryGB     int    `json:"memory_gb"`
	GPUs         int    `json:"gpus"`
	GPUType      string `json:"gpu_type,omitempty"`
	FreeGPUs     int    `json:"free_gpus"`
	FreeCPUs     int    `json:"free_cpus"`
	FreeMemoryGB int    `json:"free_memory_gb"`
}

// QuotaLeft is one resource of the tenant's quota: what its active jobs
// leave of the limit.
type QuotaLeft struct {
	Resource string `json:"resource"` // cpu, memory_gb or gpu (the form's field)
	Limited  bool   `json:"limited"`
	Limit    int    `json:"limit,omitempty"`
	Left     int    `json:"left,omitempty"`
}

// Hint is one finding about the request, on the form field it concerns.
type Hint struct {
	Field string `json:"field"`
	Key   string `json:"key"`
	Arg   string `json:"arg,omitempty"`
	// Anchor names the hint in the page: its field, with "-2" for a
	// field's second warning (a quota and a busy cluster), so ids stay
	// unique.
	Anchor string `json:"-"`
}

// anchor sets each hint's Anchor.
func anchor(hints []Hint) {
	seen := map[string]bool{}
	for i := range hints {
		hints[i].Anchor = hints[i].Field
		if seen[hints[i].Field] {
			hints[i].Anchor += "-2"
		}
		seen[hints[i].Field] = true
	}
}

// Resources is the resource step's picture: the chosen partition's node,
// the quota left, and why the request would never run (Never: larger than
// any node, refused at submit) or not now (Wait: no node has the CPUs,
// memory or GPUs free, so the job waits in the queue; or beyond the quota
// left, which the submit refuses until running jobs end).
type Resources struct {
	Partition string      `json:"partition"`
	Node      *Node       `json:"node,omitempty"`
	Problem   *Problem    `json:"problem,omitempty"` // the cluster did not answer
	Quota     []QuotaLeft `json:"quota"`
	Never     []Hint      `json:"never,omitempty"`
	Wait      []Hint      `json:"wait,omitempty"`
}

// Ask is a request's resources as numbers; a field not (yet) a number is
// 0 and judged by nothing.
type Ask struct {
	Partition          string
	CPU, MemoryGB, GPU int
}

// Resources judges ask against the partition (the default one when
// unnamed; partitions cached as the submit's check caches them) and the
// tenant's quota.
func (s *Service) Resources(ctx context.Context, tenantID int64, ask Ask) (Resources, error) {
	res := Resources{Partition: ask.Partition}
	tenant, err := s.Jobs.Store.TenantByID(ctx, tenantID)
	if err != nil {
		return res, err
	}
	use, err := s.Jobs.Store.TenantUsage(ctx, tenantID)
	if err != nil {
		return res, err
	}
	for _, q := range []struct {
		field     string
		limit     *int
		used, ask int
	}{{"cpu", tenant.QuotaCPU, use.CPU, ask.CPU}, {"memory_gb", tenant.QuotaMemoryGB, use.MemoryGB, ask.MemoryGB}, {"gpu", tenant.QuotaGPU, use.GPU, ask.GPU}} {
		ql := QuotaLeft{Resource: q.field, Limited: q.limit != nil}
		if q.limit != nil {
			ql.Limit, ql.Left = *q.limit, max(0, *q.limit-q.used)
			if q.ask > ql.Left {
				res.Wait = append(res.Wait, Hint{Field: q.field, Key: "picker.quota_used_" + q.field, Arg: strconv.Itoa(ql.Left)})
			}
		}
		res.Quota = append(res.Quota, ql)
	}
	parts, err := s.Jobs.Partitions(ctx)
	if err != nil {
		res.Problem = &Problem{Key: "training.cluster_unavailable"}
		return res, nil
	}
	var p *slurm.Partition
	for i := range parts {
		if parts[i].Name == ask.Partition || (ask.Partition == "" && parts[i].Default) {
			p = &parts[i]
		}
	}
	if p == nil {
		res.Problem = &Problem{Key: "training.unknown_partition", Arg: ask.Partition}
		return res, nil
	}
	res.Partition = p.Name
	n := &Node{CPUs: p.CPUs, MemoryGB: p.MemoryMB / 1024, FreeGPUs: p.FreeGPUs,
		FreeCPUs: p.FreeCPUs, FreeMemoryGB: p.FreeMemoryMB / 1024}
	for _, g := range p.GPUs {
		n.GPUs += g.Count
		if n.GPUType == "" {
			n.GPUType = g.Type
		}
	}
	res.Node = n
	// The same limits as the submit's check (jobs.checkPartition).
	if ask.CPU > n.CPUs {
		res.Never = append(res.Never, Hint{Field: "cpu", Key: "training.cpu_max", Arg: strconv.Itoa(n.CPUs)})
	} else if ask.CPU > p.FreeCPUs {
		res.Wait = append(res.Wait, Hint{Field: "cpu", Key: "picker.cpus_busy", Arg: strconv.Itoa(n.FreeCPUs)})
	}
	if ask.MemoryGB*1024 > p.MemoryMB {
		res.Never = append(res.Never, Hint{Field: "memory_gb", Key: "training.memory_max", Arg: strconv.Itoa(n.MemoryGB)})
	} else if ask.MemoryGB*1024 > p.FreeMemoryMB {
		res.Wait = append(res.Wait, Hint{Field: "memory_gb", Key: "picker.memory_busy", Arg: strconv.Itoa(n.FreeMemoryGB)})
	}
	if ask.GPU > n.GPUs {
		res.Never = append(res.Never, Hint{Field: "gpu", Key: "training.gpu_max", Arg: strconv.Itoa(n.GPUs)})
	} else if ask.GPU > n.FreeGPUs {
		res.Wait = append(res.Wait, Hint{Field: "gpu", Key: "picker.gpus_busy", Arg: strconv.Itoa(n.FreeGPUs)})
	}
	anchor(res.Never)
	anchor(res.Wait)
	return res, nil
}
