package fastpath

import "testing"

func TestMemoAnswersOnlyAtTheAgentsGeneration(t *testing.T) {
	m := NewMemo(10)
	key, _ := NameKey("9.1.244.10.in-addr.arpa")
	e := NewEntry([]byte{1}, nil, 0, nil, 0)
	if _, known, learn := m.Lookup([]byte(key)); known || !learn {
		t.Fatal("an unknown name in a current memo is to be learnt")
	}
	m.Teach(0, key, e)
	if got, known, _ := m.Lookup([]byte(key)); !known || got != e {
		t.Fatal("taught entry not served")
	}
	// The agent's directory changed: nothing is answered or learnt until its refresh.
	m.Invalidate(1)
	if got, known, learn := m.Lookup([]byte(key)); got != nil || known || learn {
		t.Fatal("answered from an outdated memo")
	}
	m.Teach(0, key, e) // computed before the change: dropped
	m.Teach(1, key, e) // ahead of the refresh: dropped too
	other := NewEntry([]byte{2}, nil, 0, nil, 0)
	m.Refresh(1, false, []Change{{Key: key, Entry: other}})
	if got, _, _ := m.Lookup([]byte(key)); got != other {
		t.Fatal("refresh not applied")
	}
	// A name no longer local: known, nil (relayed without learning).
	m.Invalidate(2)
	m.Refresh(2, false, []Change{{Key: key, Entry: nil}})
	if got, known, learn := m.Lookup([]byte(key)); got != nil || !known || learn {
		t.Fatal("a name the agent forwards must be relayed, not learnt again")
	}
	m.Invalidate(3)
	m.Refresh(3, true, nil)
	if m.Len() != 0 {
		t.Fatal("reset kept entries")
	}
}

func TestEntryAnswersByType(t *testing.T) {
	e := NewEntry([]byte("p"), []byte("aa"), 2, nil, 5)
	for _, c := range []struct {
		qtype uint16
		want  string
		count int
	}{{typePTR, "p", 1}, {typeA, "aa", 2}, {typeAAAA, "", 0}, {typeANY, "paa", 3}, {16, "", 0}} {
		r, n := e.Answer(c.qtype)
		if string(r) != c.want || n != c.count {
			t.Errorf("type %d: %q %d", c.qtype, r, n)
		}
	}
}
