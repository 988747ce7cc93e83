package accounts

import (
	"context"
	"errors"
	"regexp"
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
