package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// apiError is an error answer of the admin API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Message }

// maxAnswer bounds an admin API answer read into memory (evidence bundles
// are the largest).
const maxAnswer = 1 << 30

// do calls the admin API: in is sent as JSON (nil for none), the answer is
// decoded into out (nil to discard).
func (c *adminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	// Long enough for an export or a full verify of a large log; every
	// call has a deadline.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if len(b) > maxAnswer {
		return fmt.Errorf("admin API: answer larger than %d bytes", maxAnswer)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Message, Code string } `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return &apiError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
		}
		return &apiError{Status: resp.StatusCode, Message: fmt.Sprintf("admin API answered %s", resp.Status)}
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = b
		return nil
	}
	return json.Unmarshal(b, out)
}

// printJSON writes v indented to w.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// withAdmin is how a command reaches the admin API: withClient (a running
// server or the data directory) or withIncidents.
type withAdmin func(cmd *cobra.Command, fn func(ctx context.Context, c *adminClient) error) error

// callAndPrint calls the admin API through with and prints the answer on
// the command's output: under --json as JSON (a json.RawMessage byte for
// byte as the server sent it, anything else through printJSON), otherwise
// as human writes the decoded answer.
func callAndPrint[T any](cmd *cobra.Command, with withAdmin, method, path string, in any, human func(w io.Writer, v T) error) error {
	return with(cmd, func(ctx context.Context, c *adminClient) error {
		var v T
		if err := c.do(ctx, method, path, in, &v); err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if !global.json {
			return human(w, v)
		}
		if raw, ok := any(v).(json.RawMessage); ok {
			_, err := w.Write(raw)
			return err
		}
		return printJSON(w, v)
	})
}

// adminIDCmd is a subcommand whose one argument is an ID: it calls method
// on "/admin/v1/"+collection+"/"+ID (and "/"+action unless action is
// empty) through with, sending what body returns (nil body: nothing), and
// prints the answer as callAndPrint does, human given the ID.
func adminIDCmd[T any](use, short string, with withAdmin, method, collection, action string, body func() any, human func(w io.Writer, id string, v T) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			path := "/admin/v1/" + collection + "/" + url.PathEscape(id)
			if action != "" {
				path += "/" + action
			}
			var in any
			if body != nil {
				in = body()
			}
			return callAndPrint(cmd, with, method, path, in, func(w io.Writer, v T) error { return human(w, id, v) })
		},
	}
}
