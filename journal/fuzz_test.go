package journal

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse feeds the journal parser what a crash, a full disk or a hand
// edit can leave: it never panics, never keeps more than it read, and what
// it keeps reads back the same; Replay folds any records it returns.
func FuzzParse(f *testing.F) {
	var whole []byte
	for _, r := range sampleRecords() {
		b, _ := json.Marshal(r)
		whole = append(append(whole, b...), '\n')
	}
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	f.Add([]byte("{\"kind\":\"start\"}\n\x00\x00\x00"))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"kind":"final","row":-1,"result":{"outcome":"deleted"}}` + "\n"))
	f.Add([]byte(`{"kind":"submit","row":99999999,"user_id":"1"}` + "\n" + `{"kind":"answer","row":99999999,"class":"unsent"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		records, keep, err := parse("fuzz.journal", data)
		if err != nil {
			return
		}
		if keep < 0 || keep > len(data) {
			t.Fatalf("parse kept %d of %d bytes", keep, len(data))
		}
		again, keep2, err := parse("fuzz.journal", data[:keep])
		if err != nil || keep2 != keep {
			t.Fatalf("parse of the kept %d bytes = %d kept, %v", keep, keep2, err)
		}
		if diff := cmp.Diff(records, again); diff != "" {
			t.Fatalf("the kept bytes read otherwise (-first +again):\n%s", diff)
		}
		st := Replay(records)
		for _, rs := range st.Rows {
			if rs.Attempts < 0 {
				t.Fatalf("a row with %d attempts", rs.Attempts)
			}
		}
	})
}
