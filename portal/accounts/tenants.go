package accounts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"kqi/portal/input"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

// Tenant names may become Slurm account names, so they keep to Slurm's
// safe set.
var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// Tenants lists every tenant.
func (s *Service) Tenants(ctx context.Context) ([]storage.Tenant, error) {
	return s.Store.Tenants(ctx)
}

// CreateTenant validates the name and creates the tenant.
func (s *Service) CreateTenant(ctx context.Context, name string) (*storage.Tenant, error) {
	if !tenantName.MatchString(name) {
		return nil, refusal.Invalidf("name", "tenant.invalid_name")
	}
	t, err := s.Store.CreateTenant(ctx, name)
	if errors.Is(err, storage.ErrConflict) {
		return nil, taken("name", "tenant.name_taken")
	}
	return t, err
}

// Quota is how much CPU, memory (GiB) and GPU a tenant's jobs may use at
// once; nil is no limit.
type Quota struct {
	CPU      *int `json:"cpu"`
	MemoryGB *int `json:"memory_gb"`
	GPU      *int `json:"gpu"`
}

// ParseQuota reads a quota as typed in a form: a whole number a field,
// empty for no limit.
func ParseQuota(cpu, memoryGB, gpu string) (Quota, error) {
	var q Quota
	var bad refusal.Fields
	for _, f := range []struct {
		name, text string
		dst        **int
	}{{"cpu", cpu, &q.CPU}, {"memory_gb", memoryGB, &q.MemoryGB}, {"gpu", gpu, &q.GPU}} {
		text := strings.TrimSpace(f.text)
		if text == "" {
			continue
		}
		n, ok := input.Int(text, -input.MaxQuotaLimit, input.MaxQuotaLimit) // SetQuota refuses a negative one
		if !ok {
			bad.Add(f.name, "admin.tenants.bad_quota")
			continue
		}
		limit := int(n)
		*f.dst = &limit
	}
	return q, bad.Err()
}

// SetQuota sets a tenant's quota; a limit is at least 0.
func (s *Service) SetQuota(ctx context.Context, tenantID int64, q Quota) error {
	var bad refusal.Fields
	for _, f := range []struct {
		name  string
		limit *int
	}{{"cpu", q.CPU}, {"memory_gb", q.MemoryGB}, {"gpu", q.GPU}} {
		if f.limit != nil && !input.InRange(*f.limit, 0, input.MaxQuotaLimit) {
			bad.Add(f.name, "admin.tenants.bad_quota")
		}
	}
	if err := bad.Err(); err != nil {
		return err
	}
	return s.Store.SetTenantQuota(ctx, tenantID, q.CPU, q.MemoryGB, q.GPU)
}

// SetSlurmAccount sets the Slurm account a tenant's jobs are charged to
// ("" is the cluster user's default) and returns it as stored.
func (s *Service) SetSlurmAccount(ctx context.Context, tenantID int64, account string) (string, error) {
	account = strings.TrimSpace(account)
	if account != "" && slurm.CheckAccount(account) != nil {
		return "", refusal.Invalidf("account", "admin.tenants.bad_account")
	}
	return account, s.Store.SetTenantSlurmAccount(ctx, tenantID, account)
}

// RenameTenant gives a tenant a new name, checked as at creation; its id,
// and so everything of it, stays.
func (s *Service) RenameTenant(ctx context.Context, tenantID int64, name string) error {
	if !tenantName.MatchString(name) {
		return refusal.Invalidf("name", "tenant.invalid_name")
	}
	err := s.Store.RenameTenant(ctx, tenantID, name)
	if errors.Is(err, storage.ErrConflict) {
		return taken("name", "tenant.name_taken")
	}
	return err
}

// DeleteTenant deletes a tenant that holds nothing but members: one with
// data, datasets, jobs (running or not) or preprocessing definitions is
// refused (a conflict naming each), so no row or file is left without its
// tenant. Its directory in the file store, if any is left, goes too.
func (s *Service) DeleteTenant(ctx context.Context, tenantID int64) error {
	err := s.Store.DeleteTenant(ctx, tenantID)
	var full *storage.TenantNotEmptyError
	if errors.As(err, &full) {
		return TenantNotEmpty(full.Contents)
	}
	if err != nil {
		return err
	}
	if s.Files != nil {
		if err := s.Files.RemoveAll(ctx, "tenants/"+strconv.FormatInt(tenantID, 10)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// The rows are gone; a leftover empty directory harms nothing.
			return fmt.Errorf("tenant %d deleted, but not its directory: %w", tenantID, err)
		}
	}
	return nil
}

// TenantNotEmpty is the refusal to delete a tenant that still holds c:
// one reason for each kind of thing left, with how many.
func TenantNotEmpty(c storage.TenantContents) *refusal.Error {
	e := &refusal.Error{Kind: refusal.Conflict}
	for _, n := range []struct {
		count int
		key   string
	}{
		{c.ActiveJobs, "admin.tenants.still_running"},
		{c.Jobs, "admin.tenants.still_jobs"},
		{c.Data, "admin.tenants.still_data"},
		{c.Datasets, "admin.tenants.still_datasets"},
		{c.Preprocesses, "admin.tenants.still_preprocesses"},
	} {
		if n.count > 0 {
			e.Fields = append(e.Fields, refusal.Field{Key: n.key, Arg: strconv.Itoa(n.count)})
		}
	}
	return e
}
