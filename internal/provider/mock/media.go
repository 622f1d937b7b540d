// Embeddings and image generation: answers derived only from the input, so
// tests can predict them.

package mock

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
)

var tinyPNG = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for x := range 8 {
		for y := range 8 {
			img.Set(x, y, color.RGBA{uint8(x * 32), uint8(y * 32), 160, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}()

func (c *call) embeddings() {
	var inputs []string
	switch v := c.body["input"].(type) {
	case string:
		inputs = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				inputs = append(inputs, s)
			} else {
				inputs = append(inputs, fmt.Sprint(x))
			}
		}
	default:
		writeError(c.w, http.StatusBadRequest, "invalid_value", "invalid_request_error", "'input' must be a string or an array", c.azure)
		return
	}
	dims, _ := intField(c.body, "dimensions")
	if dims <= 0 || dims > 3072 {
		dims = 16
	}
	b64 := c.body["encoding_format"] == "base64"
	data := make([]any, len(inputs))
	tokens := 0
	for i, in := range inputs {
		tokens += Tokens(in)
		vec := Embed(in, dims)
		var emb any = vec
		if b64 {
			buf := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(buf)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": c.model,
		"usage": map[string]any{"prompt_tokens": tokens, "total_tokens": tokens}})
}

// Embed returns the deterministic unit vector the mock gives text.
func Embed(text string, dims int) []float32 {
	vec := make([]float32, dims)
	var norm float64
	seed := sha256.Sum256([]byte(text))
	for j := range vec {
		if j%8 == 0 && j > 0 {
			seed = sha256.Sum256(seed[:])
		}
		v := float64(int32(binary.LittleEndian.Uint32(seed[(j%8)*4:]))) / math.MaxInt32
		vec[j] = float32(v)
		norm += v * v
	}
	norm = math.Sqrt(norm)
	for j := range vec {
		vec[j] = float32(float64(vec[j]) / norm)
	}
	return vec
}

func (c *call) images() {
	n, _ := intField(c.body, "n")
	if n < 1 {
		n = 1
	}
	if n > 10 {
		writeError(c.w, http.StatusBadRequest, "invalid_value", "invalid_request_error", "'n' must be at most 10", c.azure)
		return
	}
	b64 := base64.StdEncoding.EncodeToString(tinyPNG)
	format, _ := c.body["response_format"].(string)
	data := make([]any, n)
	for i := range data {
		d := map[string]any{"revised_prompt": c.prompt}
		if format == "b64_json" {
			d["b64_json"] = b64
		} else {
			d["url"] = "data:image/png;base64," + b64
		}
		data[i] = d
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"created": c.h.now().Unix(), "data": data})
}
