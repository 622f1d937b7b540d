package redact

import (
	"net/url"
	"strings"
)

// credentialParams are query parameter names (compared case-insensitively,
// with "-" and "_" ignored) whose value is a credential whatever it looks
// like: Azure accepts "api-key" in the query, SAS URLs carry "sig", OAuth
// callbacks "code" and "access_token".
var credentialParams = map[string]bool{
	"apikey": true, "key": true, "subscriptionkey": true, "ocpapimsubscriptionkey": true,
	"accesstoken": true, "token": true, "idtoken": true, "refreshtoken": true, "code": true,
	"sig": true, "signature": true, "secret": true, "clientsecret": true, "password": true, "auth": true,
}

func isCredentialParam(name string) bool {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(name))
	return credentialParams[n]
}

// Query returns a raw URL query with the values of credential parameters
// replaced by "[REDACTED]" and credentials found by the Rules in any other
// value masked. Parameters keep their order and, where nothing is masked,
// their exact encoding, so a recording replays as it was received.
func Query(raw string) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		name, value, hasValue := strings.Cut(p, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			n = name
		}
		if isCredentialParam(n) {
			if hasValue || value != "" {
				parts[i] = name + "=[REDACTED]"
			}
			continue
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			v = value
		}
		if m := String(v); m != v {
			parts[i] = name + "=" + url.QueryEscape(m)
		}
		if m := String(n); m != n {
			parts[i] = url.QueryEscape(m) + "=" + value
		}
	}
	return strings.Join(parts, "&")
}

// RequestURI returns a request URI ("/path?query") with its query
// redacted by Query.
func RequestURI(uri string) string {
	path, q, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	return path + "?" + Query(q)
}
