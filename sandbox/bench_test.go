package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// BenchmarkListUsersPage measures one authenticated page of 200 users over loopback HTTP.
func BenchmarkListUsersPage(b *testing.B) {
	s, err := Start(Config{Seed: bigSeed(420)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Post(s.URL()+"/oauth/v2/token?"+refreshParams(s).Encode(), "", nil)
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		b.Fatalf("token request = %v, %+v", err, tok)
	}
	for b.Loop() {
		req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, s.URL()+"/crm/v7/users?page=2", nil)
		req.Header.Set("Authorization", "Zoho-oauthtoken "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /users?page=2 = %d", resp.StatusCode)
		}
	}
}
