// Package workload is the request the gateway benchmarks send, written once
// so that the figures of bench/gateway, the in-process benchmark of the whole
// assembly (internal/warden) and the guard's benchmark of the same texts
// (internal/guard) measure the same thing.
//
// It is shaped as applications send it: a system persona and a user turn
// with about 1 KB of meeting notes to work on. The mock upstream echoes the
// last user message, so the answer carries the same notes.
package workload

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Persona is the system message.
const Persona = "You are a concise, helpful assistant."

// Notes is the user message.
const Notes = "Summarise these meeting notes in three bullet points:\nAttendees: Ana, Ben, Chloe, Dev. " +
	"Ben will send the Q3 budget draft by Friday; finance wants the travel line cut by ten percent and the contractor line kept flat. " +
	"We agreed to move the launch to 14 October because the payment provider needs another week of testing, and support asked for two days of overlap with the old checkout. " +
	"Chloe owns the customer email and will share a draft on Wednesday; legal must review the refund wording before it goes out. " +
	"Dev reported that the staging database ran out of disk twice last week; he will add an alert at 80 percent and move the nightly export to the new bucket. " +
	"Open questions: who signs off the pricing page, whether the beta users keep their discount, and when the mobile release follows. " +
	"Next meeting Thursday at 10:00 in the small room; Ana sends the agenda the day before."

// Model is the model the body asks for: the mock's echo model.
const Model = "mock-echo"

// ChatBody is the chat completion request body: Persona and Notes, at most
// 200 tokens of answer.
var ChatBody = chatBody(Notes)

// chatBodyHead and chatBodyTail are ChatBody's JSON around the end of the
// notes, where ChatBodyN puts a meeting's reference.
var chatBodyHead, chatBodyTail = func() (string, string) {
	const mark = "\x01"
	b := chatBody(Notes + mark)
	i := strings.Index(b, `\u0001`)
	return b[:i], b[i+len(`\u0001`):]
}()

// ChatBodyN is ChatBody for meeting n: its notes end with a reference of
// their own (" Ref M-n."), so that no two requests of a benchmark carry the
// same user text. The guard remembers the texts it judged for a key (its
// memo): an application's system prompt is found again, as it is here, but
// every new user turn is judged, and a benchmark that sent one body over and
// over would measure the memo instead.
func ChatBodyN(n uint64) string {
	return chatBodyHead + " Ref M-" + strconv.FormatUint(n, 10) + "." + chatBodyTail
}

func chatBody(notes string) string {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	b, err := json.Marshal(struct {
		Model     string    `json:"model"`
		MaxTokens int       `json:"max_tokens"`
		Messages  []message `json:"messages"`
	}{Model, 200, []message{{"system", Persona}, {"user", notes}}})
	if err != nil {
		panic(err) // a constant value: cannot fail
	}
	return string(b)
}

// StreamBody is a short streamed chat completion request.
const StreamBody = `{"model":"mock-echo","stream":true,"messages":[{"role":"user","content":"one two three four five six seven eight nine ten"}]}`
