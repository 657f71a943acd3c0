package mongodb

import (
	"context"
	"fmt"
	"log/slog"
)

// Sweep runs fn on each item of a job's sweep, one by one: a failing item
// is logged by its id (never its data) and the sweep goes on. It returns
// how many items fn handled and, if any failed, an error that counts
// them; it stops early only when ctx ends.
func Sweep[T any](ctx context.Context, log *slog.Logger, job string, items []T, id func(T) string, fn func(context.Context, T) error) (int, error) {
	done, failed := 0, 0
	for _, it := range items {
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		if err := fn(ctx, it); err != nil {
			failed++
			log.ErrorContext(ctx, "job item failed", "job", job, "item", id(it), "err", err)
			continue
		}
		done++
	}
	if failed > 0 {
		return done, fmt.Errorf("%s: %d of %d items failed (see the log)", job, failed, len(items))
	}
	return done, nil
}
