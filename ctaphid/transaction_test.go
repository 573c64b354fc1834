package ctaphid

import (
	"context"
	"errors"
	"testing"
	"time"
)

type otherKey struct{}

// The transaction's own context keeps the context package's contract: Err
// is nil until Done is closed, cancellation comes from the transaction and
// from its parent, and values come from both.
func TestTransactionContext(t *testing.T) {
	recv := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-time.After(2 * time.Second):
			return false
		}
	}
	newTxn := func() (*transaction, context.CancelFunc) {
		parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "parent's"))
		return &transaction{parent: parent, cid: 0x01020304}, cancel
	}

	t.Run("values", func(t *testing.T) {
		txn, cancel := newTxn()
		defer cancel()
		if cid, ok := ChannelFromContext(txn); !ok || cid != 0x01020304 {
			t.Errorf("ChannelFromContext = %#x, %v", cid, ok)
		}
		if v := txn.Value(otherKey{}); v != "parent's" {
			t.Errorf("Value(otherKey) = %v, want the parent's", v)
		}
	})
	t.Run("cancel before Done", func(t *testing.T) {
		txn, cancel := newTxn()
		defer cancel()
		if txn.Err() != nil {
			t.Fatal("a new transaction is cancelled")
		}
		txn.cancel()
		txn.cancel()
		if !errors.Is(txn.Err(), context.Canceled) || !recv(txn.Done()) {
			t.Errorf("after cancel: Err %v, Done not closed", txn.Err())
		}
	})
	t.Run("cancel after Done", func(t *testing.T) {
		txn, cancel := newTxn()
		defer cancel()
		done := txn.Done()
		select {
		case <-done:
			t.Fatal("Done closed before cancel")
		default:
		}
		child, stop := context.WithTimeout(txn, time.Hour)
		defer stop()
		txn.cancel()
		if !recv(done) || !recv(child.Done()) || !errors.Is(child.Err(), context.Canceled) {
			t.Errorf("cancel did not reach Done or a child: %v", child.Err())
		}
	})
	t.Run("parent cancelled, Done asked first", func(t *testing.T) {
		txn, cancel := newTxn()
		done := txn.Done()
		cancel()
		if !recv(done) || !errors.Is(txn.Err(), context.Canceled) {
			t.Errorf("the parent's cancel did not reach the transaction: %v", txn.Err())
		}
	})
	t.Run("parent cancelled, Err asked first", func(t *testing.T) {
		parent, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		txn := &transaction{parent: parent}
		if !errors.Is(txn.Err(), context.DeadlineExceeded) || !recv(txn.Done()) {
			t.Errorf("Err %v, or Done not closed after Err reported the parent's", txn.Err())
		}
		if _, ok := txn.Deadline(); !ok {
			t.Error("Deadline does not pass the parent's on")
		}
	})
}
