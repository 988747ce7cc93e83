package slurm

import (
	"fmt"
	"strings"
)

// This file is the request side of slurmrestd v0.0.38 (Slurm 22.05), the
// version of the dev cluster. A later version gets its own file with its
// own jobDesc function: from v0.0.39 environment is a list of "K=V"
// strings and numbers are {set, number} structs; from v0.0.40 the script
// may sit in the job object.

// v0038Submit is the body of POST /slurm/v0.0.38/job/submit.
type v0038Submit struct {
	Script string         `json:"script"`
	Job    map[string]any `json:"job"`
}

// v0038JobDesc builds the v0.0.38 job description for spec.
//
// slurmrestd does not read the script's #SBATCH lines, so every option of
// SbatchOptions is given here as a field, and the user's extras are
// translated by v0038Extras. Keys are those of the v0.0.38 parser
// (src/plugins/openapi/v0.0.38/jobs.c), which hands each value to the same
// code as the sbatch option, so values keep sbatch's syntax.
func v0038JobDesc(spec JobSpec, env []EnvVar) (map[string]any, error) {
	if len(env) == 0 {
		// v0.0.38 rejects a job without environment ("environment must be set").
		return nil, fmt.Errorf("slurm: slurmrestd needs a non-empty job environment")
	}
	environment := make(map[string]string, len(env))
	for _, v := range env {
		environment[v.Name] = v.Value
	}
	job := map[string]any{
		"name":                      spec.Name,
		"comment":                   spec.Comment,
		"nodes":                     1,
		"tasks":                     1,
		"cpus_per_task":             spec.CPUs,
		"current_working_directory": spec.JobDir,
		"standard_output":           spec.LogPath(),
		"standard_error":            spec.LogPath(),
		"open_mode":                 "append",
		"environment":               environment,
	}
	if a := spec.ArrayRange(); a != "" {
		job["array"] = a
	}
	if spec.Partition != "" {
		job["partition"] = spec.Partition
	}
	if spec.Account != "" {
		job["account"] = spec.Account
	}
	if mb := spec.MemoryMB(); mb > 0 {
		job["memory_per_node"] = mb
	}
	if g := spec.GRES(); g != "" {
		job["gres"] = g
	}
	if m := spec.TimeLimitMinutes(); m > 0 {
		job["time_limit"] = m
	}
	for _, opt := range spec.Extra {
		key, value, err := v0038Extra(opt)
		if err != nil {
			return nil, err
		}
		if _, dup := job[key]; dup {
			return nil, fmt.Errorf("slurm: #SBATCH option %q: %s is already set", opt, key)
		}
		job[key] = value
	}
	return job, nil
}

// restOption is how one sbatch option is sent to slurmrestd.
type restOption struct {
	key string // the job field; "" = cannot be sent, see why
	why string
	// bare is the value sent for the option given without "=value"; nil
	// means the option needs a value.
	bare any
	// flagOnly options take no value at all.
	flagOnly bool
}

// v0038Extras maps every #SBATCH option checkExtra lets users add to its
// v0.0.38 job field. Options v0.0.38 disables, or cannot parse, are
// refused with the reason, so the REST path never silently drops an
// option the SSH path (where sbatch reads the #SBATCH line) would honour.
var v0038Extras = map[string]restOption{
	"acctg-freq":          {key: "account_gather_frequency"},
	"batch":               {key: "batch_features"},
	"begin":               {key: "begin_time"},
	"cluster-constraint":  {key: "cluster_constraint"},
	"constraint":          {key: "constraints"},
	"cpu-freq":            {key: "cpu_frequency"},
	"deadline":            {key: "deadline"},
	"delay-boot":          {key: "delay_boot"},
	"distribution":        {key: "distribution"},
	"exclude":             {key: "exclude_nodes"},
	"gpu-bind":            {key: "gpu_binding"},
	"gpu-freq":            {key: "gpu_frequency"},
	"gres-flags":          {key: "gres_flags"},
	"hint":                {key: "cpu_binding_hint"},
	"hold":                {key: "hold", bare: true, flagOnly: true},
	"kill-on-invalid-dep": {key: "kill_on_invalid_dependency"},
	"licenses":            {key: "licenses"},
	"mail-type":           {key: "mail_type"},
	"mail-user":           {key: "mail_user"},
	"mcs-label":           {key: "mcs_label"},
	"mem-bind":            {key: "memory_binding"},
	"nice":                {key: "nice", bare: "100"}, // sbatch's default adjustment
	"no-requeue":          {key: "no_requeue", bare: true, flagOnly: true},
	"nodelist":            {key: "nodelist"},
	"prefer":              {key: "prefer"},
	"priority":            {key: "priority"},
	"profile":             {key: "profile"},
	"signal":              {key: "signal"},
	"spread-job":          {key: "spread_job", bare: true, flagOnly: true},
	"time-min":            {key: "time_minimum"},
	"tmp":                 {key: "temporary_disk_per_node"},
	"use-min-nodes":       {key: "minimum_nodes", bare: true, flagOnly: true},
	"wait-all-nodes":      {key: "wait_all_nodes"},
	"wckey":               {key: "wckey"},

	"contiguous":      {why: restDisabled},
	"extra-node-info": {why: restDisabled},
	"network":         {why: restDisabled},
	"overcommit":      {why: restDisabled},
	"oversubscribe":   {why: restDisabled},
	"power":           {why: restDisabled},
	"propagate":       {why: restDisabled},
	"reboot":          {why: restDisabled},
	"switches":        {why: restDisabled},
	"no-kill":         {why: "slurmrestd v0.0.38 cannot parse it (\"Invalid no kill specification\")"},
}

const restDisabled = "slurmrestd v0.0.38 refuses it (a disabled key)"

// v0038Extra translates one user #SBATCH option, already accepted by
// checkExtra, to a v0.0.38 job field and value.
func v0038Extra(opt string) (string, any, error) {
	name, value, hasValue := strings.Cut(strings.TrimPrefix(opt, "--"), "=")
	o, ok := v0038Extras[name]
	switch {
	case !ok:
		return "", nil, fmt.Errorf("slurm: #SBATCH option %q cannot be sent through slurmrestd", opt)
	case o.key == "":
		return "", nil, fmt.Errorf("slurm: #SBATCH option %q cannot be sent through slurmrestd: %s; use the SSH backend or leave it out", opt, o.why)
	case hasValue && o.flagOnly:
		return "", nil, fmt.Errorf("slurm: #SBATCH option %q takes no value", opt)
	case hasValue:
		return o.key, value, nil
	case o.bare == nil:
		return "", nil, fmt.Errorf("slurm: #SBATCH option %q needs a value", opt)
	default:
		return o.key, o.bare, nil
	}
}
