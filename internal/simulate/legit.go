package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// The legitimate profiles of the threat model. None of them may ever be
// throttled, stepped up or suspended.

func enterpriseChatbot(g *gen, r *rand.Rand) {
	k := key{id: "acme-chatbot", owner: "acme", kind: ""}
	sdk := pythonSDK("1.54.0")
	ips := []string{"198.51.100.10", "198.51.100.11"}
	// Conversations: an employee asks, follows up a few times.
	for t := range arrivals(r, g.opt.Start, g.end(), func(t time.Time) float64 { return officeRate(t, 0, 3*g.opt.Scale) / 3 }) {
		user := fmt.Sprintf("emp-%d", r.IntN(400))
		first := topic(r)
		system := personaSystems[0]
		switch r.IntN(4) {
		case 0:
			system = pick(r, genericSystems)
		case 1:
			system, first = "You are a concise, helpful assistant.", meetingNotes // eval/load's standard body
		}
		ip := ips[r.IntN(len(ips))]
		at := t
		for turn := 1; turn <= 1+r.IntN(4); turn++ {
			g.add(at, k, ip, sdk, "POST", chatPath("gpt-4o", "2024-10-21"),
				chatBody(system, first, turn, r, map[string]any{"user": user, "max_tokens": 800}), "enterprise_chatbot", PhaseLegit, false)
			at = at.Add(time.Duration(20+r.IntN(90)) * time.Second)
		}
	}
}

func nightlyBatch(g *gen, r *rand.Rand) {
	k := key{id: "globex-batch", owner: "globex", kind: ""}
	sdk := nodeSDK("4.67.0")
	for day := g.opt.Start; day.Before(g.end()); day = day.Add(24 * time.Hour) {
		at := day.Add(2 * time.Hour).Add(time.Duration(r.IntN(300)) * time.Second)
		n := int(float64(500+r.IntN(200)) * g.opt.Scale)
		for i := range n {
			g.add(at, k, "192.0.2.40", sdk, "POST", chatPath("gpt-4o-mini", "2024-10-21"),
				chatBody(formatSystems[0], fmt.Sprintf("Ticket %d from a customer: %s. Order %d, placed %d days ago.", i, pick(r, userMessages), 100000+r.IntN(900000), 1+r.IntN(60)), 1, r,
					map[string]any{"max_tokens": 200, "temperature": 0, "response_format": map[string]any{"type": "json_object"}}), "nightly_batch", PhaseLegit, false)
			at = at.Add(time.Duration(200+r.IntN(400)) * time.Millisecond)
		}
	}
}

var characters = []string{"Aria, a cheerful librarian", "Kai, a retired sailor", "Mira, a space pilot", "Theo, a jazz pianist", "Luna, a witty barista"}

func companionApp(g *gen, r *rand.Rand) {
	k := key{id: "kindred-companion", owner: "kindred", kind: ""}
	sdk := nodeSDK("4.52.7")
	ips := []string{"203.0.113.21", "203.0.113.22", "203.0.113.23"}
	for t := g.opt.Start; t.Before(g.end()); {
		h := float64(t.Hour()) + float64(t.Minute())/60
		rate := g.opt.Scale * (4 + 3*math.Sin(math.Pi*(h-9)/12)) // 24/7 with an evening peak
		t = next(r, t, rate/3)
		user := fmt.Sprintf("u%d", r.IntN(5000))
		system := pick(r, characterCards)
		first := pick(r, companionOpeners)
		at := t
		for turn := 1; turn <= 1+r.IntN(5); turn++ {
			g.add(at, k, ips[r.IntN(len(ips))], sdk, "POST", chatPath("gpt-4o-mini", "2024-10-21"),
				chatBody(system, first, turn, r, map[string]any{"user": user, "max_tokens": 300, "temperature": 0.9}), "companion_app", PhaseLegit, false)
			at = at.Add(time.Duration(15+r.IntN(60)) * time.Second)
		}
	}
}

func fiveRegions(g *gen, r *rand.Rand) {
	k := key{id: "globalco-app", owner: "globalco", kind: ""}
	sdk := pythonSDK("1.51.2")
	regions := []struct {
		ip     string
		offset int
	}{{"192.0.2.130", 1}, {"198.18.0.10", -5}, {"198.18.64.10", 9}, {"198.18.128.10", 5}, {"198.19.0.10", -3}}
	for _, reg := range regions {
		for t := range arrivals(r, g.opt.Start, g.end(), office(reg.offset, 1.2*g.opt.Scale)) {
			g.add(t, k, reg.ip, sdk, "POST", chatPath("gpt-4o", "2024-08-01-preview"),
				chatBody(formatSystems[5], fmt.Sprintf("Translate into %s: %s", pick(r, []string{"German", "Japanese", "Spanish", "Portuguese", "French"}), pick(r, productBlurbs)), 1, r, map[string]any{"max_tokens": 500}),
				"five_regions", PhaseLegit, false)
		}
	}
}

func healthMonitor(g *gen, r *rand.Rand) {
	k := key{id: "ops-monitor", owner: "opsteam", kind: ""}
	for t := g.opt.Start.Add(time.Duration(r.IntN(300)) * time.Second); t.Before(g.end()); t = t.Add(5*time.Minute + time.Duration(r.IntN(3000))*time.Millisecond) {
		g.add(t, k, "192.0.2.200", monitorClient, "POST", chatPath("gpt-4o", "2024-10-21"),
			map[string]any{"messages": []msg{{Role: "user", Content: "hi"}}, "max_tokens": 1}, "health_monitor", PhaseLegit, false)
	}
}

func developerCurl(g *gen, r *rand.Rand) {
	k := key{id: "dana-dev", owner: "dana", kind: ""}
	home, office := "100.64.12.34", "198.51.100.10"
	for day := g.opt.Start; day.Before(g.end()); day = day.Add(24 * time.Hour) {
		sessions := []struct {
			ip    string
			start time.Duration
		}{{office, 10 * time.Hour}, {office, 14 * time.Hour}, {home, 20 * time.Hour}}
		for _, s := range sessions {
			if r.IntN(4) == 0 {
				continue
			}
			at := day.Add(s.start).Add(time.Duration(r.IntN(3600)) * time.Second)
			for i := 0; i < 5+r.IntN(15); i++ {
				body := chatBody("", "Why does this not work?\n\n"+pick(r, codeSnippets), 1, r, map[string]any{"max_tokens": 400})
				if r.IntN(2) == 0 {
					body = chatBody(pick(r, formatSystems[2:4]), pick(r, codeSnippets)+"\n\nReview this please.", 1, r, map[string]any{"max_tokens": 400})
				}
				if i == 0 {
					body = map[string]any{"messages": []msg{{Role: "user", Content: "hi"}}, "max_tokens": 5} // "does my key work?"
				}
				g.add(at, k, s.ip, curl, "POST", chatPath("gpt-4o", "2024-10-21"), body, "developer_curl", PhaseLegit, false)
				at = at.Add(time.Duration(30+r.IntN(300)) * time.Second)
			}
		}
	}
}

func keyRotation(g *gen, r *rand.Rand) {
	old, nu := key{id: "initech-app-k1", owner: "initech", kind: ""}, key{id: "initech-app-k2", owner: "initech", from: "initech-app-k1"}
	sdk := pythonSDK("1.54.0")
	rotate := g.opt.Start.Add(36 * time.Hour) // day 2, 12:00
	for t := range arrivals(r, g.opt.Start, g.end(), office(0, 1.5*g.opt.Scale)) {
		k := old
		if t.After(rotate) && (t.After(rotate.Add(15*time.Minute)) || r.IntN(2) == 0) {
			k = nu // both keys work during the rollout, then only the new one
		}
		g.add(t, k, []string{"192.0.2.77", "192.0.2.78"}[r.IntN(2)], sdk, "POST", chatPath("gpt-4o", "2024-10-21"),
			chatBody(personaSystems[5], topic(r), 1+r.IntN(3), r, map[string]any{"max_tokens": 600}), "key_rotation", PhaseLegit, false)
	}
}

func sdkUpgrade(g *gen, r *rand.Rand) {
	k := key{id: "umbrella-app", owner: "umbrella", kind: ""}
	before, after := pythonSDK("1.40.0"), pythonSDK("1.55.3")
	upgrade := g.opt.Start.Add(38 * time.Hour) // day 2, 14:00
	for t := range arrivals(r, g.opt.Start, g.end(), office(0, 1.5*g.opt.Scale)) {
		c, ver := before, "2024-02-01"
		if t.After(upgrade) {
			c, ver = after, "2024-10-21"
		}
		g.add(t, k, "192.0.2.90", c, "POST", chatPath("gpt-4o", ver),
			chatBody(formatSystems[4], topic(r), 1, r, map[string]any{"max_tokens": 50, "temperature": 0.2}), "sdk_upgrade", PhaseLegit, false)
	}
}

func marketingImages(g *gen, r *rand.Rand) {
	k := key{id: "contoso-marketing", owner: "contoso", kind: ""}
	sdk := pythonSDK("1.54.0")
	for t := range arrivals(r, g.opt.Start, g.end(), office(0, 0.08*g.opt.Scale)) {
		size, quality := "1024x1024", "standard"
		if r.IntN(2) == 0 {
			size, quality = "1792x1024", "hd"
		}
		g.add(t, k, "198.51.100.60", sdk, "POST", "/openai/deployments/dall-e-3/images/generations?api-version=2024-02-01",
			map[string]any{"prompt": fmt.Sprintf("A product photo of our new water bottle on a %s background, campaign %d", []string{"beach", "mountain", "city"}[r.IntN(3)], r.IntN(1000)),
				"size": size, "quality": quality, "n": 1}, "marketing_images", PhaseLegit, false)
	}
}

// victimKeys are ordinary customer apps whose keys leak.
var victimKeys = []struct {
	k   key
	ip  string
	sdk clientKind
	dep string
}{
	{key{id: "brightpath-app", owner: "brightpath", kind: ""}, "192.0.2.10", pythonSDK("1.54.0"), "gpt-4o"},
	{key{id: "northwind-app", owner: "northwind", kind: ""}, "198.51.100.140", nodeSDK("4.67.0"), "gpt-4o"},
	{key{id: "lumen-app", owner: "lumen", kind: ""}, "192.0.2.150", pythonSDK("1.52.0"), "gpt-4o"},
	{key{id: "quill-app", owner: "quill", kind: ""}, "198.51.100.170", pythonSDK("1.54.0"), "gpt-4o-mini"},
	{key{id: "pixelworks-app", owner: "pixelworks", kind: ""}, "192.0.2.180", pythonSDK("1.54.0"), "gpt-4o"},
}

func victims(g *gen, r *rand.Rand) {
	for i, v := range victimKeys {
		for t := range arrivals(r, g.opt.Start, g.end(), office(0, 0.8*g.opt.Scale)) {
			g.add(t, v.k, v.ip, v.sdk, "POST", chatPath(v.dep, "2024-10-21"),
				chatBody(victimSystems[i], topic(r), 1+r.IntN(3), r, map[string]any{"max_tokens": 500, "user": fmt.Sprintf("c%d-%d", i, r.IntN(300))}),
				"victim_"+v.k.owner, PhaseLegit, false)
			if v.k.owner == "pixelworks" && r.IntN(10) == 0 {
				g.add(t.Add(time.Second), v.k, v.ip, v.sdk, "POST", "/openai/deployments/dall-e-3/images/generations?api-version=2024-02-01",
					map[string]any{"prompt": "An icon for our app's " + topics[r.IntN(len(topics))], "size": "1024x1024", "n": 1}, "victim_pixelworks", PhaseLegit, false)
			}
		}
	}
}

var victimSystems = []string{
	personaSystems[1], personaSystems[4], personaSystems[6], personaSystems[7],
	"You are the assistant of Pixelworks, a photo-editing app. Explain features step by step and suggest keyboard shortcuts. Do not promise features that are not released.",
}

var companionOpeners = []string{
	"hi! how was your day?", "I had a rough day at work, can we just chat?", "tell me a story about the sea",
	"*sits down at the counter* the usual please", "what book should I read next?", "good morning :)",
	"can you help me practise small talk for a party", "I passed my exam!!",
}

var productBlurbs = []string{
	"Our insulated steel bottle keeps drinks cold for 24 hours and hot for 12. 750 ml, dishwasher-safe lid.",
	"<p>The <b>Volt X2</b> headphones offer 40 h of battery and active noise cancelling.</p>",
	"Lightweight hiking boots with a waterproof membrane and a recycled rubber sole. Sizes 36-47.",
}

// helpdeskAgent is a retrieval and tool-using support agent: long system
// prompts with retrieved documents, tool calls and tool results.
func helpdeskAgent(g *gen, r *rand.Rand) {
	k := key{id: "voltaro-help", owner: "voltaro"}
	sdk := pythonSDK("1.54.0")
	tools := []any{
		map[string]any{"type": "function", "function": map[string]any{"name": "get_order", "description": "Look up an order by number",
			"parameters": map[string]any{"type": "object", "properties": map[string]any{"order_id": map[string]any{"type": "string"}}, "required": []string{"order_id"}}}},
		map[string]any{"type": "function", "function": map[string]any{"name": "create_refund", "description": "Refund an order after the customer confirmed",
			"parameters": map[string]any{"type": "object", "properties": map[string]any{"order_id": map[string]any{"type": "string"}, "amount": map[string]any{"type": "number"}}}}},
	}
	for t := range arrivals(r, g.opt.Start, g.end(), office(1, 2*g.opt.Scale)) {
		ip := []string{"192.0.2.220", "192.0.2.221"}[r.IntN(2)]
		if r.IntN(2) == 0 { // RAG answer with several KB of retrieved documents
			g.add(t, k, ip, sdk, "POST", chatPath("gpt-4o", "2024-10-21"),
				chatBody(ragSystem(r, 2+r.IntN(3)), pick(r, ragQuestions), 1+r.IntN(2), r, map[string]any{"max_tokens": 600, "temperature": 0.2}),
				"helpdesk_agent", PhaseLegit, false)
			continue
		}
		order := fmt.Sprintf("VT-%06d", r.IntN(1000000))
		call := map[string]any{"id": "call_" + order, "type": "function", "function": map[string]any{"name": "get_order", "arguments": `{"order_id":"` + order + `"}`}}
		result := fmt.Sprintf(`{"order_id":"%s","status":"delivered","items":[{"sku":"VX2-BLK","name":"Volt X2 headphones","price":129.0}],"delivered_at":"2026-02-%02d","notes":"Customer called about a crackling left ear cup."}`, order, 1+r.IntN(27))
		msgs := []msg{
			{Role: "system", Content: toolSystems[0]},
			{Role: "user", Content: fmt.Sprintf("Hi, order %s arrived but the left side crackles. Can I get a refund?", order)},
			{Role: "assistant", ToolCalls: []any{call}},
			{Role: "tool", ToolCallID: "call_" + order, Content: result},
		}
		g.add(t, k, ip, sdk, "POST", chatPath("gpt-4o", "2024-10-21"),
			map[string]any{"messages": msgs, "tools": tools, "tool_choice": "auto", "max_tokens": 400}, "helpdesk_agent", PhaseLegit, false)
	}
}

var ragQuestions = []string{
	"can I return headphones I opened?", "how long does shipping to zurich take", "someone logged into my account, what do I do",
	"my battery died after 8 months, is that covered?", "do loyalty points expire", "can I combine a voucher with the sale",
}

// docSearch embeds documents in a nightly re-index and queries by day.
func docSearch(g *gen, r *rand.Rand) {
	k := key{id: "lexi-search", owner: "lexi"}
	sdk := nodeSDK("4.67.0")
	path := "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21"
	for day := g.opt.Start; day.Before(g.end()); day = day.Add(24 * time.Hour) {
		at := day.Add(3 * time.Hour)
		for range int(200 * g.opt.Scale) {
			batch := make([]string, 16)
			for j := range batch {
				d := pick(r, ragDocs)
				batch[j] = d[:min(len(d), 200+r.IntN(200))]
			}
			g.add(at, k, "203.0.113.90", sdk, "POST", path, map[string]any{"input": batch}, "doc_search", PhaseLegit, false)
			at = at.Add(time.Duration(300+r.IntN(500)) * time.Millisecond)
		}
	}
	for t := range arrivals(r, g.opt.Start, g.end(), office(0, 1*g.opt.Scale)) {
		g.add(t, k, "203.0.113.91", sdk, "POST", path, map[string]any{"input": pick(r, userMessages)}, "doc_search", PhaseLegit, false)
	}
}

// newKeyLaunch is a key created during the simulation: its developer tries
// it from a laptop with a few tiny prompts ("hi", "test"), then the app goes
// live from its servers with an SDK and ordinary system prompts.
func newKeyLaunch(g *gen, r *rand.Rand) {
	k := key{id: "sprout-app", owner: "sprout"}
	created := g.opt.Start.Add(38*time.Hour + 30*time.Minute) // day 2, 14:30
	at := created
	for _, p := range []string{"hi", "test", "hi", "ping", "hello", "ok", "say hi in french", "what model are you?"} {
		g.add(at, k, "100.64.77.5", curl, "POST", chatPath("gpt-4o-mini", "2024-10-21"),
			map[string]any{"messages": []msg{{Role: "user", Content: p}}, "max_tokens": 5 + r.IntN(20)}, "new_key_launch", PhaseLegit, false)
		at = at.Add(time.Duration(10+r.IntN(50)) * time.Second)
	}
	sdk := nodeSDK("4.67.0")
	for t := created.Add(2 * time.Hour); t.Before(g.end()); {
		h := float64(t.Hour())
		rate := g.opt.Scale * (0.5 + 0.4*math.Sin(math.Pi*(h-6)/12))
		t = next(r, t, rate)
		system := pick(r, append(genericSystems[:3:3], formatSystems[1], personaSystems[2]))
		g.add(t, k, []string{"203.0.113.140", "203.0.113.141"}[r.IntN(2)], sdk, "POST", chatPath("gpt-4o-mini", "2024-10-21"),
			chatBody(system, topic(r), 1+r.IntN(3), r, map[string]any{"max_tokens": 300}), "new_key_launch", PhaseLegit, false)
	}
}
