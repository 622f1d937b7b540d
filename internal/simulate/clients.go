package simulate

import (
	"fmt"

	"github.com/wardenhq/warden/internal/record"
)

// clientKind is the software that sends a request; it decides the headers
// and their order, which are part of a client's fingerprint.
type clientKind struct {
	name    string
	headers func(ua, key string, bodyLen int) record.Headers
}

// hdrs builds headers from name, value pairs.
func hdrs(kv ...string) record.Headers {
	h := make(record.Headers, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, record.Header{Name: kv[i], Value: kv[i+1]})
	}
	return h
}

// Header sets, in the order the real clients send them.
func pythonSDK(version string) clientKind {
	return clientKind{"openai-python " + version, func(_, key string, n int) record.Headers {
		return hdrs(
			"Host", "warden.example.com", "Accept-Encoding", "gzip, deflate", "Connection", "keep-alive",
			"Accept", "application/json", "Content-Type", "application/json", "User-Agent", "AzureOpenAI/Python "+version,
			"X-Stainless-Lang", "python", "X-Stainless-Package-Version", version, "X-Stainless-OS", "Linux",
			"X-Stainless-Arch", "x64", "X-Stainless-Runtime", "CPython", "X-Stainless-Runtime-Version", "3.11.9",
			"api-key", key, "X-Stainless-Async", "false", "X-Stainless-Retry-Count", "0",
			"Content-Length", fmt.Sprint(n),
		)
	}}
}

func nodeSDK(version string) clientKind {
	return clientKind{"openai-node " + version, func(_, key string, n int) record.Headers {
		return hdrs(
			"accept", "application/json", "content-type", "application/json", "user-agent", "AzureOpenAI/JS "+version,
			"x-stainless-lang", "js", "x-stainless-package-version", version, "x-stainless-os", "Linux",
			"x-stainless-arch", "x64", "x-stainless-runtime", "node", "x-stainless-runtime-version", "v20.11.1",
			"api-key", key, "x-stainless-retry-count", "0", "content-length", fmt.Sprint(n),
			"accept-encoding", "gzip,deflate", "host", "warden.example.com", "connection", "keep-alive",
		)
	}}
}

var curl = clientKind{"curl", func(_, key string, n int) record.Headers {
	return hdrs("Host", "warden.example.com", "User-Agent", "curl/8.5.0", "Accept", "*/*",
		"api-key", key, "Content-Type", "application/json", "Content-Length", fmt.Sprint(n))
}}

var monitorClient = clientKind{"uptime-monitor", func(_, key string, n int) record.Headers {
	return hdrs("Host", "warden.example.com", "User-Agent", "Go-http-client/1.1",
		"Content-Length", fmt.Sprint(n), "Api-Key", key, "Content-Type", "application/json", "Accept-Encoding", "gzip")
}}

var pythonRequests = clientKind{"python-requests", func(_, key string, n int) record.Headers {
	return hdrs("Host", "warden.example.com", "User-Agent", "python-requests/2.31.0", "Accept-Encoding", "gzip, deflate",
		"Accept", "*/*", "Connection", "keep-alive", "api-key", key, "Content-Type", "application/json", "Content-Length", fmt.Sprint(n))
}}

// orpClient is oai-reverse-proxy: it forwards only host, content-type and
// the key.
var orpClient = clientKind{"oai-reverse-proxy", func(_, key string, n int) record.Headers {
	return hdrs("host", "warden.example.com", "content-type", "application/json", "api-key", key, "content-length", fmt.Sprint(n))
}}

// de3uClient sends both Authorization and api-key.
var de3uClient = clientKind{"de3u", func(_, key string, n int) record.Headers {
	return hdrs("host", "warden.example.com", "user-agent", "axios/1.6.2", "content-type", "application/json",
		"authorization", "Bearer "+key, "api-key", key, "content-length", fmt.Sprint(n), "accept", "application/json, text/plain, */*")
}}

// spoofSDK copies the SDK's headers but not quite: an older version, a
// different OS and no retry-count header.
var spoofSDK = clientKind{"spoofed openai-python", func(_, key string, n int) record.Headers {
	return hdrs(
		"Host", "warden.example.com", "Accept-Encoding", "gzip, deflate", "Connection", "keep-alive",
		"Accept", "application/json", "Content-Type", "application/json", "User-Agent", "AzureOpenAI/Python 1.30.1",
		"X-Stainless-Lang", "python", "X-Stainless-Package-Version", "1.30.1", "X-Stainless-OS", "MacOS",
		"X-Stainless-Arch", "arm64", "X-Stainless-Runtime", "CPython", "X-Stainless-Runtime-Version", "3.12.2",
		"api-key", key, "X-Stainless-Async", "false", "Content-Length", fmt.Sprint(n),
	)
}}
