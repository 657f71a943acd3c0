package mongodb

import (
	"errors"
	"sync/atomic"
)

// Fault is what an injected fault does to one write.
type Fault int

// The faults a test can inject.
const (
	// NoFault: the write goes ahead as usual.
	NoFault Fault = iota
	// FailBefore: the write is not made and ErrUnavailable is returned, as
	// when the store cannot be reached.
	FailBefore
	// FailAfter: the write is made, then ErrUnavailable is returned, as
	// when a timeout strikes after the store committed: the caller cannot
	// tell whether it happened.
	FailAfter
)

// ErrInjected is the error of an injected fault; it wraps ErrUnavailable.
var ErrInjected = errors.Join(ErrUnavailable, errors.New("injected fault"))

// FaultFunc decides the fault of one operation, by collection and
// operation: the writes insert, insertMany, update, updateMany,
// findAndModify, delete, deleteMany, and the reads find and count (for a
// read, FailAfter is FailBefore).
type FaultFunc func(collection, op string) Fault

type faults struct{ fn atomic.Pointer[FaultFunc] }

// InjectFaults makes every operation through this store's collections ask
// fn what to do; nil stops it. For tests of what the domain does when a
// write fails, or fails after committing: the store stays real.
func (s *Store) InjectFaults(fn FaultFunc) {
	if fn == nil {
		s.faults.fn.Store(nil)
		return
	}
	s.faults.fn.Store(&fn)
}

// fault asks the injected function about one write; a FailBefore fault
// comes back as the error to return without writing.
func (c *Collection) fault(op string) (Fault, error) {
	if c.faults == nil {
		return NoFault, nil
	}
	fn := c.faults.fn.Load()
	if fn == nil {
		return NoFault, nil
	}
	f := (*fn)(c.c.Name(), op)
	if f == FailBefore {
		return f, ErrInjected
	}
	return f, nil
}

// after turns the outcome of a made write into the injected error when
// the fault says the answer is lost.
func (f Fault) after(err error) error {
	if err == nil && f == FailAfter {
		return ErrInjected
	}
	return err
}
