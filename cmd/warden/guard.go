package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/guard"
)

// guardSubcommands builds score and eval, which share their flags and
// setup.
func guardSubcommands(*cobra.Command) []*cobra.Command {
	var input, policyFile, stage string
	openInput := func() (io.ReadCloser, error) {
		if input == "" || input == "-" {
			return io.NopCloser(os.Stdin), nil
		}
		return os.Open(input)
	}
	loadPolicy := func() (*guard.Policy, error) {
		if policyFile == "" {
			return guard.DefaultPolicy(), nil
		}
		b, err := os.ReadFile(policyFile)
		if err != nil {
			return nil, err
		}
		return guard.DecodePolicy(b)
	}
	// setup loads the guard, the policy and the input, in that order, for
	// score and eval alike.
	setup := func() (*guard.Guard, *guard.Policy, io.ReadCloser, error) {
		g, err := guard.New(guard.Options{})
		if err != nil {
			return nil, nil, nil, err
		}
		p, err := loadPolicy()
		if err != nil {
			return nil, nil, nil, err
		}
		in, err := openInput()
		if err != nil {
			return nil, nil, nil, err
		}
		return g, p, in, nil
	}
	score := &cobra.Command{
		Use:   "score",
		Short: "Read JSONL with a text field (and optional role: system, user, tool, output), write verdict, scores and categories per line",
		RunE: func(cmd *cobra.Command, args []string) error {
			g, p, in, err := setup()
			if err != nil {
				return err
			}
			defer in.Close()
			return g.ScoreJSONL(cmd.Context(), in, cmd.OutOrStdout(), guard.Stage(stage), p)
		},
	}
	eval := &cobra.Command{
		Use:   "eval",
		Short: "Print precision, recall and false-positive rate by category for labelled JSONL, recall at 0.5%, 1% and 2% false positives, and benign flag rates per role and per source",
		RunE: func(cmd *cobra.Command, args []string) error {
			if input == "" {
				return fmt.Errorf("guard eval: --input is required")
			}
			g, p, in, err := setup()
			if err != nil {
				return err
			}
			defer in.Close()
			rep, err := g.Eval(commandContext(cmd), in, guard.Stage(stage), p)
			if err != nil {
				return err
			}
			return rep.WriteText(cmd.OutOrStdout())
		},
	}
	for _, c := range []*cobra.Command{score, eval} {
		c.Flags().StringVar(&input, "input", "", "JSONL file (default stdin for score)")
		c.Flags().StringVar(&policyFile, "policy", "", "policy file, JSON or YAML (default: built-in policy)")
		c.Flags().StringVar(&stage, "stage", string(guard.StagePrompt), "stage: prompt, image_prompt, answer or stream")
	}
	return []*cobra.Command{score, eval}
}
