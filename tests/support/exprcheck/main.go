// Reads JSON lines; "cond" lines are evaluated as Argo Rollouts' EvalCondition does (expr, env
// {"result": []float64}); "tmpl" lines are rendered as Flagger's RenderQuery does (text/template
// with namespace/target/interval functions). Prints one JSON line per input.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"text/template"

	"github.com/antonmedv/expr"
)

type in struct {
	Cond     string   `json:"cond"`
	Result   []string `json:"result"`
	Text     *string  `json:"text"`
	Tmpl     string   `json:"tmpl"`
	NS       string   `json:"ns"`
	Target   string   `json:"target"`
	Interval string   `json:"interval"`
}

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for sc.Scan() {
		var x in
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			panic(err)
		}
		if x.Tmpl != "" {
			funcs := template.FuncMap{
				"namespace": func() string { return x.NS },
				"target":    func() string { return x.Target },
				"interval":  func() string { return x.Interval },
			}
			t, err := template.New("tmpl").Funcs(funcs).Parse(x.Tmpl)
			if err != nil {
				out.Encode(map[string]string{"error": err.Error()})
				continue
			}
			var b bytes.Buffer
			if err := t.Execute(&b, nil); err != nil {
				out.Encode(map[string]string{"error": err.Error()})
				continue
			}
			out.Encode(map[string]string{"text": b.String()})
			continue
		}
		vals := make([]float64, 0, len(x.Result))
		for _, s := range x.Result {
			f, _ := strconv.ParseFloat(s, 64)
			vals = append(vals, f)
		}
		env := map[string]interface{}{"result": vals}
		if x.Text != nil {
			env["result"] = *x.Text
		}
		prog, err := expr.Compile(x.Cond, expr.Env(env), expr.AsBool())
		if err != nil {
			out.Encode(map[string]string{"error": err.Error()})
			continue
		}
		res, err := expr.Run(prog, env)
		if err != nil {
			out.Encode(map[string]string{"error": err.Error()})
			continue
		}
		out.Encode(map[string]string{"value": fmt.Sprint(res)})
	}
}
