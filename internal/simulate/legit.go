package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// The legitimate profiles of the threat model. None of them may ever be
// throttled, stepped up or suspended.

const chatbotSystem = "You are Acme's internal assistant. Answer using company policy documents. Be concise."

func enterpriseChatbot(g *gen, r *rand.Rand) {
	k := key{"acme-chatbot", "acme", ""}
	sdk := pythonSDK("1.54.0")
	ips := []string{"198.51.100.10", "198.51.100.11"}
	// Conversations: an employee asks, follows up a few times.
	for t := g.opt.Start; t.Before(g.end()); {
		rate := officeRate(t, 0, 3*g.opt.Scale)
		if rate == 0 {
			t = t.Add(10 * time.Minute)
			continue
		}
		t = next(r, t, rate/3)
		user := fmt.Sprintf("emp-%d", r.IntN(400))
		first := topic(r)
		ip := ips[r.IntN(len(ips))]
		at := t
		for turn := 1; turn <= 1+r.IntN(4); turn++ {
			g.add(at, k, ip, sdk, "POST", chatPath("gpt-4o", "2024-10-21"),
				chatBody(chatbotSystem, first, turn, r, map[string]any{"user": user, "max_tokens": 800}), "enterprise_chatbot", PhaseLegit, false)
			at = at.Add(time.Duration(20+r.IntN(90)) * time.Second)
		}
	}
}

func nightlyBatch(g *gen, r *rand.Rand) {
	k := key{"globex-batch", "globex", ""}
	sdk := nodeSDK("4.67.0")
	for day := g.opt.Start; day.Before(g.end()); day = day.Add(24 * time.Hour) {
		at := day.Add(2 * time.Hour).Add(time.Duration(r.IntN(300)) * time.Second)
		n := int(float64(500+r.IntN(200)) * g.opt.Scale)
		for i := range n {
			g.add(at, k, "192.0.2.40", sdk, "POST", chatPath("gpt-4o-mini", "2024-10-21"),
				chatBody("Summarise the support ticket in three bullet points.", fmt.Sprintf("Ticket %d: customer reports %s", i, topics[r.IntN(len(topics))]), 1, r,
					map[string]any{"max_tokens": 200, "temperature": 0}), "nightly_batch", PhaseLegit, false)
			at = at.Add(time.Duration(200+r.IntN(400)) * time.Millisecond)
		}
	}
}

var characters = []string{"Aria, a cheerful librarian", "Kai, a retired sailor", "Mira, a space pilot", "Theo, a jazz pianist", "Luna, a witty barista"}

func companionApp(g *gen, r *rand.Rand) {
	k := key{"kindred-companion", "kindred", ""}
	sdk := nodeSDK("4.52.7")
	ips := []string{"203.0.113.21", "203.0.113.22", "203.0.113.23"}
	for t := g.opt.Start; t.Before(g.end()); {
		h := float64(t.Hour()) + float64(t.Minute())/60
		rate := g.opt.Scale * (4 + 3*math.Sin(math.Pi*(h-9)/12)) // 24/7 with an evening peak
		t = next(r, t, rate/3)
		user := fmt.Sprintf("u%d", r.IntN(5000))
		char := characters[r.IntN(len(characters))]
		system := "You are " + char + ". Stay in character no matter what and keep the conversation going."
		if r.IntN(3) == 0 {
			system = "Character card for {{char}}: " + char + ". Stay in character no matter what."
		}
		first := fmt.Sprintf("Hi! I'm user %s, tell me about your day (%d).", user, r.IntN(1000000))
		at := t
		for turn := 1; turn <= 1+r.IntN(5); turn++ {
			g.add(at, k, ips[r.IntN(len(ips))], sdk, "POST", chatPath("gpt-4o-mini", "2024-10-21"),
				chatBody(system, first, turn, r, map[string]any{"user": user, "max_tokens": 300, "temperature": 0.9}), "companion_app", PhaseLegit, false)
			at = at.Add(time.Duration(15+r.IntN(60)) * time.Second)
		}
	}
}

func fiveRegions(g *gen, r *rand.Rand) {
	k := key{"globalco-app", "globalco", ""}
	sdk := pythonSDK("1.51.2")
	regions := []struct {
		ip     string
		offset int
	}{{"192.0.2.130", 1}, {"198.18.0.10", -5}, {"198.18.64.10", 9}, {"198.18.128.10", 5}, {"198.19.0.10", -3}}
	for _, reg := range regions {
		for t := g.opt.Start; t.Before(g.end()); {
			rate := officeRate(t, reg.offset, 1.2*g.opt.Scale)
			if rate == 0 {
				t = t.Add(10 * time.Minute)
				continue
			}
			t = next(r, t, rate)
			g.add(t, k, reg.ip, sdk, "POST", chatPath("gpt-4o", "2024-08-01-preview"),
				chatBody("Translate the product description for the local market.", topic(r), 1, r, map[string]any{"max_tokens": 500}),
				"five_regions", PhaseLegit, false)
		}
	}
}

func healthMonitor(g *gen, r *rand.Rand) {
	k := key{"ops-monitor", "opsteam", ""}
	for t := g.opt.Start.Add(time.Duration(r.IntN(300)) * time.Second); t.Before(g.end()); t = t.Add(5*time.Minute + time.Duration(r.IntN(3000))*time.Millisecond) {
		g.add(t, k, "192.0.2.200", monitorClient, "POST", chatPath("gpt-4o", "2024-10-21"),
			map[string]any{"messages": []msg{{"user", "hi"}}, "max_tokens": 1}, "health_monitor", PhaseLegit, false)
	}
}

func developerCurl(g *gen, r *rand.Rand) {
	k := key{"dana-dev", "dana", ""}
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
				body := chatBody("", "Explain this stack trace: "+topic(r), 1, r, map[string]any{"max_tokens": 400})
				if i == 0 {
					body = map[string]any{"messages": []msg{{"user", "hi"}}, "max_tokens": 5} // "does my key work?"
				}
				g.add(at, k, s.ip, curl, "POST", chatPath("gpt-4o", "2024-10-21"), body, "developer_curl", PhaseLegit, false)
				at = at.Add(time.Duration(30+r.IntN(300)) * time.Second)
			}
		}
	}
}

func keyRotation(g *gen, r *rand.Rand) {
	old, nu := key{"initech-app-k1", "initech", ""}, key{"initech-app-k2", "initech", ""}
	sdk := pythonSDK("1.54.0")
	rotate := g.opt.Start.Add(36 * time.Hour) // day 2, 12:00
	for t := g.opt.Start; t.Before(g.end()); {
		rate := officeRate(t, 0, 1.5*g.opt.Scale)
		if rate == 0 {
			t = t.Add(10 * time.Minute)
			continue
		}
		t = next(r, t, rate)
		k := old
		if t.After(rotate) && (t.After(rotate.Add(15*time.Minute)) || r.IntN(2) == 0) {
			k = nu // both keys work during the rollout, then only the new one
		}
		g.add(t, k, "192.0.2.77", sdk, "POST", chatPath("gpt-4o", "2024-10-21"),
			chatBody("You draft replies to customer e-mails.", topic(r), 1, r, map[string]any{"max_tokens": 600}), "key_rotation", PhaseLegit, false)
	}
}

func sdkUpgrade(g *gen, r *rand.Rand) {
	k := key{"umbrella-app", "umbrella", ""}
	before, after := pythonSDK("1.40.0"), pythonSDK("1.55.3")
	upgrade := g.opt.Start.Add(38 * time.Hour) // day 2, 14:00
	for t := g.opt.Start; t.Before(g.end()); {
		rate := officeRate(t, 0, 1.5*g.opt.Scale)
		if rate == 0 {
			t = t.Add(10 * time.Minute)
			continue
		}
		t = next(r, t, rate)
		c, ver := before, "2024-02-01"
		if t.After(upgrade) {
			c, ver = after, "2024-10-21"
		}
		g.add(t, k, "192.0.2.90", c, "POST", chatPath("gpt-4o", ver),
			chatBody("You classify support tickets.", topic(r), 1, r, map[string]any{"max_tokens": 50, "temperature": 0.2}), "sdk_upgrade", PhaseLegit, false)
	}
}

func marketingImages(g *gen, r *rand.Rand) {
	k := key{"contoso-marketing", "contoso", ""}
	sdk := pythonSDK("1.54.0")
	for t := g.opt.Start; t.Before(g.end()); {
		rate := officeRate(t, 0, 0.08*g.opt.Scale)
		if rate == 0 {
			t = t.Add(10 * time.Minute)
			continue
		}
		t = next(r, t, rate)
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
	{key{"brightpath-app", "brightpath", ""}, "192.0.2.10", pythonSDK("1.54.0"), "gpt-4o"},
	{key{"northwind-app", "northwind", ""}, "198.51.100.140", nodeSDK("4.67.0"), "gpt-4o"},
	{key{"lumen-app", "lumen", ""}, "192.0.2.150", pythonSDK("1.52.0"), "gpt-4o"},
	{key{"quill-app", "quill", ""}, "198.51.100.170", pythonSDK("1.54.0"), "gpt-4o-mini"},
	{key{"pixelworks-app", "pixelworks", ""}, "192.0.2.180", pythonSDK("1.54.0"), "gpt-4o"},
}

func victims(g *gen, r *rand.Rand) {
	for i, v := range victimKeys {
		for t := g.opt.Start; t.Before(g.end()); {
			rate := officeRate(t, 0, 0.8*g.opt.Scale)
			if rate == 0 {
				t = t.Add(10 * time.Minute)
				continue
			}
			t = next(r, t, rate)
			g.add(t, v.k, v.ip, v.sdk, "POST", chatPath(v.dep, "2024-10-21"),
				chatBody(fmt.Sprintf("You are the assistant of %s's product.", v.k.owner), topic(r), 1+r.IntN(3), r, map[string]any{"max_tokens": 500, "user": fmt.Sprintf("c%d-%d", i, r.IntN(300))}),
				"victim_"+v.k.owner, PhaseLegit, false)
			if v.k.owner == "pixelworks" && r.IntN(10) == 0 {
				g.add(t.Add(time.Second), v.k, v.ip, v.sdk, "POST", "/openai/deployments/dall-e-3/images/generations?api-version=2024-02-01",
					map[string]any{"prompt": "An icon for our app's " + topics[r.IntN(len(topics))], "size": "1024x1024", "n": 1}, "victim_pixelworks", PhaseLegit, false)
			}
		}
	}
}
