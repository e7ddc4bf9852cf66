package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Hierarchy types of an org: which relation makes one user another's
// subordinate.
const (
	RoleHierarchy        = "Role_Hierarchy"
	ReportingToHierarchy = "Reporting_To_Hierarchy"
)

// Org is the CRM organisation, with the fields offboard uses.
type Org struct {
	ID          ID     `json:"id"`
	CompanyName string `json:"company_name"`
	// PrimaryZUID is the Zoho user ID (zuid, not the CRM user id) of the
	// super admin.
	PrimaryZUID ID `json:"primary_zuid"`
	// PrimaryEmail is the super admin's email address.
	PrimaryEmail         string `json:"primary_email"`
	HierarchyPreferences struct {
		Type              string `json:"type"`
		StrictlyReporting bool   `json:"strictly_reporting"`
	} `json:"hierarchy_preferences"`
}

// IsSuperAdmin reports whether u is the org's super admin: its zuid is the
// org's primary_zuid or, for a user without a zuid, its email is the org's
// primary_email. Zoho has no flag for this on the user; the Administrator
// profile does not make one.
func (o Org) IsSuperAdmin(u User) bool {
	if o.PrimaryZUID != "" && u.ZUID != "" {
		return o.PrimaryZUID == u.ZUID
	}
	return o.PrimaryEmail != "" && strings.EqualFold(strings.TrimSpace(o.PrimaryEmail), strings.TrimSpace(u.Email))
}

// Hierarchy returns the org's hierarchy type, Role_Hierarchy when Zoho
// does not say.
func (o Org) Hierarchy() string {
	if o.HierarchyPreferences.Type == "" {
		return RoleHierarchy
	}
	return o.HierarchyPreferences.Type
}

// Org fetches the organisation (GET /org).
func (c *Client) Org(ctx context.Context) (Org, error) {
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/org"})
	if err != nil {
		return Org{}, err
	}
	var body struct {
		Org []Org `json:"org"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return Org{}, fmt.Errorf("zoho: decode org: %w", err)
	}
	if len(body.Org) == 0 {
		return Org{}, errors.New("zoho: the org answer holds no org")
	}
	return body.Org[0], nil
}

// Role is a CRM role. Roles form a tree through ReportingTo; Zoho does not
// list a role's subordinates.
type Role struct {
	ID           ID     `json:"id"`
	Name         string `json:"name"`
	DisplayLabel string `json:"display_label"`
	ReportingTo  *Ref   `json:"reporting_to"`
}

// Roles fetches every role (GET /settings/roles).
func (c *Client) Roles(ctx context.Context) ([]Role, error) {
	resp, err := c.do(ctx, call{method: http.MethodGet, path: "/settings/roles"})
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNoContent {
		return nil, nil
	}
	var body struct {
		Roles []Role `json:"roles"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return nil, fmt.Errorf("zoho: decode roles: %w", err)
	}
	return body.Roles, nil
}
