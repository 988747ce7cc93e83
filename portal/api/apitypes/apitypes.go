// Package apitypes holds the bodies of the JSON API under /api/v1, the one
// definition the server (portal/api) answers with and the client
// (portal/client) reads, so the two cannot drift. It imports nothing of
// the portal: a client built from it carries no server code.
package apitypes

import "time"

// NextOffsetHeader answers GET …/log?offset=N: the offset to ask from next.
const NextOffsetHeader = "X-Next-Offset"

// Error is every error answer: the message in English and, for a refusal
// tied to fields, each field's reason.
type Error struct {
	Error  string  `json:"error"`
	Fields []Field `json:"fields,omitempty"`
}

// Field is one field's reason in an Error.
type Field struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// List is every list answer: a page of items, how many there are in all
// (counted up to 10,000: 10001 means more) and, on the paged lists, the
// cursors of the pages either side (absent at either end): give Next as
// ?after= and Prev as ?before=.
type List[T any] struct {
	Items []T    `json:"items"`
	Total int    `json:"total"`
	Next  string `json:"next,omitempty"`
	Prev  string `json:"prev,omitempty"`
}

// TokenRequest is POST /auth/token's body.
type TokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Tenant   string `json:"tenant"` // name or id; empty: the user's default tenant
}

// TenantRef names a tenant.
type TenantRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Token is POST /auth/token's answer.
type Token struct {
	Token     string    `json:"token"`
	Tenant    TenantRef `json:"tenant"`
	ExpiresAt string    `json:"expires_at"`
}

// User is the caller in GET /me.
type User struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	SystemAdmin bool   `json:"system_admin"`
	Language    string `json:"language"`
}

// Membership is one tenant the caller belongs to, with their role there.
type Membership struct {
	Tenant TenantRef `json:"tenant"`
	Role   string    `json:"role"`
}

// Me is GET /me's answer.
type Me struct {
	User    User         `json:"user"`
	Tenant  TenantRef    `json:"tenant"`
	Role    string       `json:"role"`
	Tenants []Membership `json:"tenants"`
}

// SSHKeyRequest is POST /me/ssh-keys' body.
type SSHKeyRequest struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

// SSHKey is one of the caller's SSH keys.
type SSHKey struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	PublicKey   string  `json:"public_key"`
	Fingerprint string  `json:"fingerprint"`
	CreatedAt   string  `json:"created_at"`
	LastUsedAt  *string `json:"last_used_at"`
}

// File is one file of a datum, an upload or a job's attachments.
type File struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Data is a datum.
type Data struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Memo      string    `json:"memo"`
	Tags      []string  `json:"tags"`
	FileCount int       `json:"file_count"`
	TotalSize int64     `json:"total_size"`
	Files     []File    `json:"files,omitempty"`
	Frozen    bool      `json:"frozen"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DataPatch is PATCH /data/{id}'s body: members left out stay as they are.
type DataPatch struct {
	Name *string   `json:"name,omitempty"`
	Memo *string   `json:"memo,omitempty"`
	Tags *[]string `json:"tags,omitempty"`
}

// DatasetRequest is POST /datasets' body; entries map an area (training,
// validation, testing) to data ids.
type DatasetRequest struct {
	Name    string             `json:"name"`
	Memo    string             `json:"memo"`
	Entries map[string][]int64 `json:"entries"`
}

// DatasetPatch is PATCH /datasets/{id}'s body: members left out stay;
// entries, when given, replace all of them.
type DatasetPatch struct {
	Name    *string            `json:"name,omitempty"`
	Memo    *string            `json:"memo,omitempty"`
	Entries map[string][]int64 `json:"entries,omitempty"`
}

// CopyRequest is the optional body of POST …/copy.
type CopyRequest struct {
	Name string `json:"name"`
}

// Dataset is a dataset; Entries only when one is asked for.
type Dataset struct {
	ID        int64              `json:"id"`
	Name      string             `json:"name"`
	Memo      string             `json:"memo"`
	Frozen    bool               `json:"frozen"`
	FrozenAt  *time.Time         `json:"frozen_at"`
	Counts    map[string]int     `json:"counts"`
	Entries   map[string][]int64 `json:"entries,omitempty"`
	CreatedBy string             `json:"created_by"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// GitRef is a model repository.
type GitRef struct {
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	Commit     string `json:"commit"`
}

// TrainingRequest is POST /trainings' body.
type TrainingRequest struct {
	Name             string            `json:"name"`
	DatasetID        int64             `json:"dataset_id"`
	ParentID         *int64            `json:"parent_id"`
	Image            string            `json:"image"`
	Git              GitRef            `json:"git"`
	Command          string            `json:"command"`
	CPU              int               `json:"cpu"`
	MemoryGB         int               `json:"memory_gb"`
	GPU              int               `json:"gpu"`
	Partition        string            `json:"partition"`
	Env              map[string]string `json:"env"`
	Memo             string            `json:"memo"`
	SbatchOptions    []string          `json:"sbatch_options"`
	TimeLimitMinutes int               `json:"time_limit_minutes"`
}

// InferenceRequest is POST /inferences' body: a training's with one or
// more parents (parent_id, if given, comes first).
type InferenceRequest struct {
	TrainingRequest
	ParentIDs []int64 `json:"parent_ids"`
}

// Env is one environment variable of a job.
type Env struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Job is a training (and the part of an inference they share).
type Job struct {
	ID            int64      `json:"id"`
	Name          string     `json:"name"`
	Status        string     `json:"status"`
	Reason        string     `json:"reason"`      // in English
	ReasonCode    string     `json:"reason_code"` // the cause's code (see docs/api.md), "" for none
	ReasonArg     string     `json:"reason_arg"`
	ExitCode      *int       `json:"exit_code"`
	SlurmJobID    string     `json:"slurm_job_id"`
	Node          string     `json:"node"`
	DatasetID     int64      `json:"dataset_id"`
	ParentID      *int64     `json:"parent_id"`
	Image         string     `json:"image"`
	Git           GitRef     `json:"git"`
	Command       string     `json:"command"`
	CPU           int        `json:"cpu"`
	MemoryGB      int        `json:"memory_gb"`
	GPU           int        `json:"gpu"`
	Partition     string     `json:"partition"`
	Env           []Env      `json:"env"`
	SbatchOptions []string   `json:"sbatch_options"`
	TimeLimitMin  int        `json:"time_limit_minutes"`
	Memo          string     `json:"memo"`
	Tags          []string   `json:"tags"`
	Favorite      bool       `json:"favorite"`
	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	QueuedAt      *time.Time `json:"queued_at"`
	StartedAt     *time.Time `json:"started_at"`
	EndedAt       *time.Time `json:"ended_at"`
}

// Ended reports whether the job has reached a final status.
func (j *Job) Ended() bool {
	switch j.Status {
	case "submitting", "queued", "running":
		return false
	}
	return true
}

// Inference is an inference: a job with every parent and its output value
// (nil for none).
type Inference struct {
	Job
	ParentIDs []int64  `json:"parent_ids"`
	Value     *float64 `json:"value"`
}

// JobPatch is PATCH /trainings/{id}'s (and /inferences/{id}'s) body:
// members left out stay as they are.
type JobPatch struct {
	Memo     *string   `json:"memo,omitempty"`
	Tags     *[]string `json:"tags,omitempty"`
	Favorite *bool     `json:"favorite,omitempty"`
}

// Stopped is POST …/stop's answer.
type Stopped struct {
	ID            int64  `json:"id"`
	Status        string `json:"status"`
	StopRequested bool   `json:"stop_requested"`
}

// Output is one file a job wrote under /kqi/output.
type Output struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// PreprocessRequest is POST /preprocesses' (and PUT's) body.
type PreprocessRequest struct {
	Name     string `json:"name"`
	Command  string `json:"command"`
	Memo     string `json:"memo"`
	Image    string `json:"image"`
	Git      GitRef `json:"git"`
	CPU      int    `json:"cpu"`
	MemoryGB int    `json:"memory_gb"`
	GPU      int    `json:"gpu"`
}

// Preprocess is a preprocess definition.
type Preprocess struct {
	PreprocessRequest
	ID        int64     `json:"id"`
	Locked    bool      `json:"locked"` // it has run: command, image and model are fixed
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RunRequest is POST /preprocesses/{id}/runs' body: resources left out are
// the preprocess's defaults.
type RunRequest struct {
	DataIDs   []int64           `json:"data_ids"`
	Env       map[string]string `json:"env"`
	Partition string            `json:"partition"`
	CPU       *int              `json:"cpu"`
	MemoryGB  *int              `json:"memory_gb"`
	GPU       *int              `json:"gpu"`
}

// History is one entry of a preprocess's history: a run over one datum,
// in the cluster or external.
type History struct {
	DataID        int64      `json:"data_id"`
	DataName      string     `json:"data_name"`
	PreprocessID  int64      `json:"preprocess_id"`
	Status        string     `json:"status"`
	Reason        string     `json:"reason,omitempty"`
	External      bool       `json:"external"`
	OutputDataIDs []int64    `json:"output_data_ids"`
	JobID         int64      `json:"job_id,omitempty"`
	SlurmJobID    string     `json:"slurm_job_id"`
	Node          string     `json:"node"`
	ExitCode      *int       `json:"exit_code"`
	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	StartedAt     *time.Time `json:"started_at"`
	EndedAt       *time.Time `json:"ended_at"`
}

// OpenRequest is POST /preprocesses/{id}/histories' body (the external
// workflow).
type OpenRequest struct {
	DataID int64 `json:"data_id"`
}

// Upload is POST …/histories/{data}/outputs' answer: one result datum.
type Upload struct {
	Name  string `json:"name"`
	Files []File `json:"files"`
}
