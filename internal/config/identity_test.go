package config

// identityCases are TestParse's cases for tls and identity.
var identityCases = []parseCase{
	{"ok", "tls: {cert_file: c, key_file: k, client_ca_file: ca, client_auth: require}\nidentity:\n  mtls:\n    clients: [{match: {cn: x}, key_spec: {name: x}}]\n", ""},
	{"cert without key", "tls: {cert_file: c}\n", "go together"},
	{"client auth without CA", "tls: {cert_file: c, key_file: k, client_auth: request}\n", "client_ca_file"},
	{"unknown client auth", "tls: {cert_file: c, key_file: k, client_ca_file: ca, client_auth: always}\n", "unknown client_auth"},
	{"mtls without client auth", "identity:\n  mtls:\n    clients: [{match: {cn: x}, key_spec: {name: x}}]\n", "needs tls.client_auth"},
	{"issuer without audience", "identity:\n  oidc:\n    issuers: [{issuer: https://i.example, policies: [{key_id: k}]}]\n", "audience"},
	{"issuer without policies", "identity:\n  oidc:\n    issuers: [{issuer: https://i.example, audience: a}]\n", "no policies"},
	{"long ttl", "identity:\n  tokens: {enabled: true, ttl: 2h}\n", "ttl"},
	{"bad bits", "identity:\n  tokens: {bind_ipv4_bits: 33}\n", "bind_ipv4_bits"},
	{"typo", "identity:\n  token: {enabled: true}\n", "not found"},
}
