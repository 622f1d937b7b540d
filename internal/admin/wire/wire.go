// Package wire is the admin API's wire format: JSON answers and the error
// shape {"error": {"message", "code"}}. It is a leaf package so that the
// handlers mounted on the admin API from other packages (the audit log, the
// live view, the console) answer exactly as the admin server does without
// importing it.
package wire

import (
	"encoding/json"
	"net/http"
)

// JSON writes v as the answer with status, indented for people reading it
// with curl.
func JSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		Error(w, http.StatusInternalServerError, "internal", "cannot encode answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// Error writes an error answer.
func Error(w http.ResponseWriter, status int, code, msg string) {
	JSON(w, status, map[string]any{"error": map[string]string{"message": msg, "code": code}})
}
