// Command statuscheck reports what GitOps tools would say about Kubernetes objects, using their
// own code where it can: kstatus (sigs.k8s.io/cli-utils, which Flux and `kubectl wait` follow)
// computes the status itself, and Argo CD's health is the result of running a resource
// customization health.lua with gopher-lua the way Argo CD's util/lua runs it.
//
// Input (stdin): one object, a JSON array of objects, or a List ({"items": [...]}).
// Output (stdout): a JSON array, one entry per object, in input order.
//
//	statuscheck --health ecr.pullsecrets.io/EcrRegistry=deploy/argocd/ecr.pullsecrets.io_EcrRegistry/health.lua
//
// The Lua environment mirrors Argo CD's for scripts configured in argocd-cm (useOpenLibs off):
// only the base, package and table libraries plus a safe os (os.time), a 1 s time limit, and the
// global `obj` built from the object as Argo CD's decodeValue builds it (maps become tables with
// string keys, arrays 1-based tables, int64 and float64 numbers). The `argo` result adds what
// gitops-engine does before it runs any script: an object with a deletionTimestamp is
// Progressing "Pending deletion", and a script error is Unknown with the error as message.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	// Set when the computation itself failed (a malformed object, a Lua error).
	Error string `json:"error,omitempty"`
}

type report struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Name       string   `json:"name"`
	Kstatus    verdict  `json:"kstatus"`
	Lua        *verdict `json:"lua"`
	Argo       *verdict `json:"argo"`
}

type healthScripts map[string]string

func (h healthScripts) String() string { return fmt.Sprint(map[string]string(h)) }

func (h healthScripts) Set(value string) error {
	key, path, ok := strings.Cut(value, "=")
	if !ok || key == "" || path == "" {
		return fmt.Errorf("want <group>/<Kind>=<path to health.lua>, got %q", value)
	}
	script, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	h[key] = string(script)
	return nil
}

func main() {
	scripts := healthScripts{}
	flag.Var(scripts, "health", "`group/Kind=path`: the Argo CD health.lua for that kind (repeatable)")
	flag.Parse()

	input, err := readAll()
	if err != nil {
		fail(err)
	}
	objects, err := decodeObjects(input)
	if err != nil {
		fail(err)
	}
	reports := make([]report, 0, len(objects))
	for _, obj := range objects {
		reports = append(reports, check(obj, scripts))
	}
	out, err := json.Marshal(reports)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "statuscheck: %v\n", err)
	os.Exit(1)
}

func readAll() ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(os.Stdin)
	return buf.Bytes(), err
}

// decodeObjects decodes the way client-go's unstructured decoder does (integers become int64),
// which is the form both kstatus and Argo CD's controller see.
func decodeObjects(input []byte) ([]*unstructured.Unstructured, error) {
	trimmed := bytes.TrimSpace(input)
	var raw []json.RawMessage
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, fmt.Errorf("reading a JSON array of objects: %w", err)
		}
	} else {
		var list struct {
			Kind  string             `json:"kind"`
			Items *[]json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, fmt.Errorf("reading a JSON object: %w", err)
		}
		if list.Items != nil && (list.Kind == "" || strings.HasSuffix(list.Kind, "List")) {
			raw = *list.Items
		} else {
			raw = []json.RawMessage{trimmed}
		}
	}
	objects := make([]*unstructured.Unstructured, 0, len(raw))
	for i, item := range raw {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(item); err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
		objects = append(objects, u)
	}
	return objects, nil
}

func check(obj *unstructured.Unstructured, scripts healthScripts) report {
	r := report{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
	if result, err := status.Compute(obj); err != nil {
		r.Kstatus = verdict{Status: "Unknown", Error: err.Error()}
	} else {
		r.Kstatus = verdict{Status: result.Status.String(), Message: result.Message}
	}
	script, ok := scripts[configMapKey(obj)]
	if !ok {
		return r
	}
	luaResult := runHealthScript(obj, script)
	r.Lua = &luaResult
	argo := luaResult
	if luaResult.Error != "" {
		argo = verdict{Status: "Unknown", Message: luaResult.Error, Error: luaResult.Error}
	}
	// gitops-engine's GetResourceHealth answers this before it consults any health override.
	if obj.GetDeletionTimestamp() != nil {
		argo = verdict{Status: "Progressing", Message: "Pending deletion"}
	}
	r.Argo = &argo
	return r
}

// configMapKey is Argo CD's GetConfigMapKey: "group/Kind", or "Kind" for the core group.
func configMapKey(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	if gvk.Group == "" {
		return gvk.Kind
	}
	return gvk.Group + "/" + gvk.Kind
}

var validHealth = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

func runHealthScript(obj *unstructured.Unstructured, script string) verdict {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return verdict{Status: "Unknown", Error: err.Error()}
		}
	}
	l.PreloadModule(lua.OsLibName, safeOsLoader)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return verdict{Status: "Unknown", Error: err.Error()}
	}
	returned := l.Get(-1)
	table, ok := returned.(*lua.LTable)
	if !ok {
		return verdict{Status: "Unknown", Error: fmt.Sprintf("expect table output from Lua script, not %s", returned.Type().String())}
	}
	// Argo CD encodes the table to JSON and decodes that into its HealthStatus struct, so a
	// non-string status or message is an error there too.
	encoded, err := json.Marshal(fromLua(table))
	if err != nil {
		return verdict{Status: "Unknown", Error: err.Error()}
	}
	var health struct {
		Status  string `json:"status,omitempty"`
		Message string `json:"message,omitempty"`
	}
	if err := json.Unmarshal(encoded, &health); err != nil {
		return verdict{Status: "Unknown", Error: err.Error()}
	}
	if !validHealth[health.Status] {
		return verdict{Status: "Unknown", Message: "Lua returned an invalid health status"}
	}
	return verdict{Status: health.Status, Message: health.Message}
}

// toLua mirrors Argo CD's decodeValue.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), toLua(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// fromLua converts a returned value to Go the way layeh.com/gopher-json encodes it: a table whose
// keys are 1..n in order is an array, any other table an object with stringified keys.
func fromLua(value lua.LValue) any {
	switch v := value.(type) {
	case lua.LBool:
		return bool(v)
	case lua.LNumber:
		return float64(v)
	case lua.LString:
		return string(v)
	case *lua.LTable:
		var arr []any
		var obj map[string]any
		v.ForEach(func(k, item lua.LValue) {
			if n, isNumber := k.(lua.LNumber); isNumber && obj == nil && int(n) == len(arr)+1 {
				arr = append(arr, fromLua(item))
				return
			}
			if obj == nil {
				obj = make(map[string]any, len(arr)+1)
				for i, earlier := range arr {
					obj[strconv.Itoa(i+1)] = earlier
				}
			}
			obj[k.String()] = fromLua(item)
		})
		if obj != nil {
			return obj
		}
		if arr == nil {
			return []any{}
		}
		return arr
	case *lua.LNilType:
		return nil
	}
	return unencodable{value.Type().String()}
}

type unencodable struct{ kind string }

func (u unencodable) MarshalJSON() ([]byte, error) {
	return nil, errors.New("cannot encode " + u.kind + " to JSON")
}

// The safe subset of the os library Argo CD exposes to scripts: os.time only here (Argo CD also
// has os.date; no script of ours needs it, and a script using it fails here rather than passing).
var safeOsFuncs = map[string]lua.LGFunction{"time": osTime}

func openSafeOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.OsLibName, safeOsFuncs))
	return 1
}

func safeOsLoader(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), safeOsFuncs))
	return 1
}

func osTime(l *lua.LState) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(time.Now().Unix()))
		return 1
	}
	tbl := l.CheckTable(1)
	field := func(name string, fallback int) int {
		if n, ok := tbl.RawGetString(name).(lua.LNumber); ok {
			return int(n)
		}
		return fallback
	}
	t := time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1), field("hour", 12), field("min", 0), field("sec", 0), 0, time.Local)
	l.Push(lua.LNumber(t.Unix()))
	return 1
}
