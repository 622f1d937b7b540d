package authn

import "testing"

func TestRoleOf(t *testing.T) {
	c := &Config{Roles: map[string][]string{"viewer": {"helpdesk", "all"}, "responder": {"secops"}, "admin": {"platform"}}}
	for _, tc := range []struct {
		groups []string
		want   Role
	}{
		{nil, None},
		{[]string{"sales"}, None},
		{[]string{"all"}, Viewer},
		{[]string{"all", "secops"}, Responder},
		{[]string{"platform", "helpdesk"}, Admin},
	} {
		if got := c.RoleOf(tc.groups); got != tc.want {
			t.Errorf("RoleOf(%v) = %s, want %s", tc.groups, got, tc.want)
		}
	}
	if None.Allows(None) || !Admin.Allows(Viewer) || Viewer.Allows(Responder) {
		t.Error("Allows is wrong")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Roles: map[string][]string{"owner": {"x"}}},
		{ServiceTokenRole: "root"},
		{OIDC: OIDCConfig{Issuer: "https://idp.example"}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	ok := Config{Roles: map[string][]string{"viewer": {"x"}}, ServiceTokenRole: "responder"}
	if err := ok.Validate(); err != nil || ok.ServiceRole() != Responder {
		t.Errorf("valid config: %v, service role %s", err, ok.ServiceRole())
	}
}
