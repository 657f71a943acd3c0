package mongodb

import (
	"os"
	"strconv"
	"strings"
)

// WrittenBytes is what this process has had written to disk so far
// (/proc/self/io's write_bytes): the embedded store runs in it, so the
// difference across a rush is what the rush cost the disk. -1 where the
// system does not say.
func WrittenBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}
