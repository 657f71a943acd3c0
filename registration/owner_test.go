package registration_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// namesRegistrations lists where a Go file names the registrations
// collection: mongodb.Registrations, or the literal "registrations".
func namesRegistrations(t *testing.T, path string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var at []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && id.Name == "mongodb" && x.Sel.Name == "Registrations" {
				at = append(at, fset.Position(x.Pos()).String())
			}
		case *ast.BasicLit:
			if x.Kind == token.STRING && x.Value == `"registrations"` {
				at = append(at, fset.Position(x.Pos()).String())
			}
		}
		return true
	})
	return at
}

// TestOneOwner: no package but registration names the registrations
// collection in its code (package mongodb declares the name and its
// indexes), so no other package can write a registration: they call
// registration's named transitions. Tests may read the raw documents.
func TestOneOwner(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files, owner := 0, 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		at := namesRegistrations(t, path)
		switch dir := filepath.Dir(rel); dir {
		case "registration":
			owner += len(at)
		case "mongodb":
		default:
			for _, p := range at {
				t.Errorf("%s names the registrations collection: only package registration may", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk saw the code, and would see a name where there is one.
	if files < 50 || owner == 0 {
		t.Fatalf("walked %d files and found the owner naming the collection %d times: the walk saw nothing", files, owner)
	}
}
