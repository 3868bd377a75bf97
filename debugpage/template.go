package debugpage

import (
	"fmt"
	"html/template"
	"strings"
)

// diffLine is one line of a diff, classed for colour.
type diffLine struct {
	Class, Text string
}

func diffLines(diff string) []diffLine {
	if diff == "" {
		return nil
	}
	var out []diffLine
	for l := range strings.SplitSeq(strings.TrimSuffix(diff, "\n"), "\n") {
		c := ""
		switch t := strings.TrimLeft(l, " \t"); {
		case strings.HasPrefix(t, "-"):
			c = "del"
		case strings.HasPrefix(t, "+"):
			c = "add"
		}
		out = append(out, diffLine{c, l})
	}
	return out
}

var funcs = template.FuncMap{
	"pct":       func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
	"diffLines": diffLines,
	"rampActions": func() []rampAction {
		return []rampAction{
			{ActionRampPause, "Pause ramp"},
			{ActionRampResume, "Resume ramp"},
			{ActionRampAdvance, "Advance one step"},
			{ActionRampRollback, "Roll back"},
		}
	},
}

type rampAction struct {
	Action Action
	Label  string
}

// pageTemplate renders the overview and an experiment's page. Everything
// user-controlled goes through html/template's contextual escaping; the
// style and the script carry the response's CSP nonce.
var pageTemplate = template.Must(template.New("page").Funcs(funcs).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dualrun{{if .Detail}}{{range .Experiments}}: {{.Name}}{{end}}{{end}}</title>
<style nonce="{{.Nonce}}">
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 18px;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header a{color:#fff}.meta{color:#b8c0cc;font-size:12px}
main{padding:12px 18px}
.banner{padding:8px 12px;border-radius:4px;margin:8px 0}.ro{background:#eef1f5;border:1px solid #c9d1dc}
.warn{background:#fff4d6;border:1px solid #e6c35c}.ok{background:#e3f6e5;border:1px solid #77c183}.bad{background:#fde4e1;border:1px solid #e0796b}
section.exp{background:#fff;border:1px solid #d9dee6;border-radius:6px;padding:10px 14px;margin:12px 0}
h2{font-size:16px;margin:0 0 8px}h3{font-size:13px;margin:10px 0 4px;color:#4a5568;text-transform:uppercase;letter-spacing:.04em}
.tag{font-size:11px;background:#fde4e1;border-radius:3px;padding:1px 6px;margin-left:6px}
.grid{display:flex;gap:24px;flex-wrap:wrap}.col{min-width:260px;max-width:560px}
table{border-collapse:collapse}td,th{padding:2px 8px 2px 0;text-align:left;vertical-align:top}th{color:#4a5568;font-weight:500}
table.outcomes td,table.outcomes th{text-align:right;padding:2px 6px;border-bottom:1px solid #eef1f5}
.o-mismatch,.rate{font-weight:600;color:#b42318}
code{font:12px ui-monospace,monospace;background:#eef1f5;padding:0 3px;border-radius:3px}
svg .legacy{fill:#4f7cac}svg .candidate{fill:#d9822b}svg text{font:10px ui-monospace,monospace;fill:#1d2330}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}.legend .legacy{background:#4f7cac}.legend .candidate{background:#d9822b}
article.report{border-top:1px solid #eef1f5;padding:6px 0}.rh{font-size:12px;color:#4a5568}
pre.diff{background:#1d2330;color:#e8ecf1;padding:8px;border-radius:4px;overflow:auto;max-height:320px;font:12px/1.35 ui-monospace,monospace;margin:4px 0;tab-size:4}
pre .del{color:#ff9b8f}pre .add{color:#8fe39b}
form.ctl{display:inline-flex;gap:6px;align-items:center;margin:4px 12px 4px 0}input{width:5em}
button{font:inherit;padding:2px 10px;cursor:pointer}
</style>
</head>
<body data-refresh="{{.Refresh}}">
<header><h1><a href="?">dualrun</a>{{if .Detail}}{{range .Experiments}} / <span id="title-name">{{.Name}}</span>{{end}}{{end}}</h1>
<span class="meta">{{len .Experiments}} experiment(s) · {{.Time.Format "2006-01-02 15:04:05 UTC"}}{{if .Refresh}} · refreshes every {{.Refresh}}s{{end}}</span></header>
<main>
{{if .ReadOnly}}<p class="banner ro" id="read-only">Read-only: controls are off. The application enables them with debugpage.WithControls and an authorization hook.</p>{{end}}
{{if .ShadowsDisabled}}<p class="banner warn">Shadows are disabled for the whole process (dualrun.DisableShadows or DUALRUN_DISABLE_SHADOWS).</p>{{end}}
{{with .Notice}}<p class="banner ok" id="notice">{{.}}</p>{{end}}
{{with .Problem}}<p class="banner bad" id="problem">{{.}}</p>{{end}}
{{range .Experiments}}
<section class="exp">
<h2><a class="name" href="?experiment={{.Name}}">{{.Name}}</a>{{if .Paused}}<span class="tag">shadows paused</span>{{end}}{{if .ShutDown}}<span class="tag">shut down</span>{{end}}</h2>
<div class="grid">
<div class="col">
<table class="kv">
<tr><th>primary</th><td>{{.Primary}}</td></tr>
<tr><th>rollout</th><td class="rollout">{{.Rollout.Description}}</td></tr>
{{with .Rollout.Ramp}}<tr><th>ramp</th><td>step {{.Step}} (of {{.Steps}}, from 0) “{{.StepName}}”{{if .Paused}}, paused{{end}}{{if .Closed}}, closed{{end}}{{with .Waiting}}; waiting: {{.}}{{end}}{{with .LastTransition}}; last: {{.}}{{end}}</td></tr>{{end}}
<tr><th>calls</th><td>{{.Calls}} ({{.Compared}} compared, {{.CandidatePrimary}} candidate primary)</td></tr>
<tr><th>mismatch rate</th><td{{if .MismatchRate}} class="rate"{{end}}>{{pct .MismatchRate}}</td></tr>
<tr><th>shed · in flight</th><td>{{.Shed}} · {{.InFlight}}</td></tr>
<tr><th>reports</th><td>{{.Reports.Published}} published, {{.Reports.Dropped}} dropped, {{.Reports.Suppressed}} suppressed</td></tr>
</table>
<table class="outcomes"><tr>{{range .OutcomeList}}<th>{{.Name}}</th>{{end}}</tr><tr>{{range .OutcomeList}}<td class="o-{{.Name}}">{{.Count}}</td>{{end}}</tr></table>
</div>
<div class="col">
<h3>latency (compared calls)</h3>
{{with .Chart}}{{if .Empty}}<p>No latency yet.</p>{{else}}<svg class="chart" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="p50, p90 and p99 latency of each side">
{{range .Bars}}{{if .Label}}<text x="0" y="{{.LabelY}}">{{.Label}}</text>{{end}}<rect x="34" y="{{.Y}}" width="{{.W}}" height="9" class="{{.Class}}"><title>{{.Title}}</title></rect><text x="{{.TextX}}" y="{{.TextY}}">{{.Value}}</text>
{{end}}</svg>
<div class="legend"><span class="legacy"></span>legacy<span class="candidate"></span>candidate</div>{{end}}{{end}}
</div>
<div class="col">
<h3>top differing paths</h3>
{{if .Fields}}<ol class="fields">{{range .Fields}}<li><code>{{.Path}}</code> × {{.Count}}</li>{{end}}</ol>{{if .MoreFields}}<p><a href="?experiment={{.Name}}">{{.MoreFields}} more</a></p>{{end}}{{else}}<p>None yet.</p>{{end}}
</div>
</div>
{{if $.Detail}}
{{if .Classes}}<h3>mismatch classes (every mismatch)</h3>
<table class="sets"><tr><th>count</th><th>kind</th><th>paths</th></tr>
{{range .Classes}}<tr><td>{{.Count}}{{if .Overcount}} (±{{.Overcount}}){{end}}</td><td>{{.Kind}}</td><td>{{range .Paths}}<code>{{.}}</code> {{end}}</td></tr>{{end}}
</table>{{end}}
{{with .Calibration}}<h3>calibration</h3><p>{{.Samples}} samples of {{.Calls}} extra legacy calls; {{.IgnoredAsNoise}} mismatches ignored as noise{{if .NoisyPaths}}; noisy paths: {{range .NoisyPaths}}<code>{{.}}</code> {{end}}{{end}}.</p>{{end}}
{{if .PathSets}}<h3>path sets (from the Reports)</h3>
<table class="sets"><tr><th>count</th><th>outcome</th><th>paths</th><th>sample</th></tr>
{{range .PathSets}}<tr><td>{{.Count}}{{if .Overcount}} (±{{.Overcount}}){{end}}</td><td>{{.Outcome}}{{with .Kind}}/{{.}}{{end}}</td><td>{{range .Paths}}<code>{{.}}</code> {{end}}</td><td><code>{{.SampleID}}</code></td></tr>{{end}}
</table>{{end}}
{{if or .Controls.Live .Controls.Ramp .Controls.Pause}}<h3>controls</h3><div class="controls">
{{if .Controls.Live}}<form method="post" class="ctl"><input type="hidden" name="experiment" value="{{.Name}}"><input type="hidden" name="action" value="set_rollout">
<label>shadow <input name="shadow" id="shadow" value="{{.Controls.Shadow}}">%</label>
<label>candidate primary <input name="candidate_primary" id="candidate_primary" value="{{.Controls.CandidatePrimary}}">%</label>
<button id="set-rollout">Set rollout</button></form>{{end}}
{{if .Controls.Ramp}}{{$n := .Name}}{{range rampActions}}<form method="post" class="ctl"><input type="hidden" name="experiment" value="{{$n}}"><input type="hidden" name="action" value="{{.Action}}"><button id="{{.Action}}">{{.Label}}</button></form>{{end}}{{end}}
{{if .Controls.Pause}}<form method="post" class="ctl"><input type="hidden" name="experiment" value="{{.Name}}"><input type="hidden" name="action" value="{{if .Paused}}resume_shadows{{else}}pause_shadows{{end}}"><button id="pause">{{if .Paused}}Resume shadows{{else}}Pause shadows{{end}}</button></form>{{end}}
</div>{{end}}
{{end}}
<h3>recent reports</h3>
{{range .Recent}}<article class="report">
<div class="rh">{{.Time}} · <b>{{.Outcome}}{{with .Kind}}/{{.}}{{end}}</b> · primary {{.Primary}}{{if .Paths}} · paths {{range .Paths}}<code>{{.}}</code> {{end}}{{end}} · id <code>{{.ID}}</code>{{with .TraceID}} · trace <code>{{.}}</code>{{end}}{{with .SpanID}} span <code>{{.}}</code>{{end}}</div>
<div class="rh">legacy {{or .Legacy.Duration "—"}}{{with .Legacy.ErrorType}} <code>{{.}}</code>{{end}} · candidate {{or .Candidate.Duration "—"}}{{with .Candidate.ErrorType}} <code>{{.}}</code>{{end}}{{with .Callback}} · callback <code>{{.}}</code>{{end}}{{with .Key}} · key <code>{{.}}</code>{{end}}</div>
{{with .Legacy.Error}}<div class="err">legacy error: <code>{{.}}</code></div>{{end}}{{with .Candidate.Error}}<div class="err">candidate error: <code>{{.}}</code></div>{{end}}{{with .CallbackError}}<div class="err">callback error: <code>{{.}}</code></div>{{end}}
{{with .Diff}}<pre class="diff">{{range diffLines .}}<span class="{{.Class}}">{{.Text}}</span>
{{end}}</pre>{{end}}
</article>{{else}}<p class="none">No reports yet.</p>{{end}}
</section>
{{else}}{{if not .Detail}}<p>No experiments yet: they appear here once made (dualrun.New or dualrun.Run).</p>{{end}}{{end}}
</main>
<script nonce="{{.Nonce}}">
(function () {
  var s = Number(document.body.getAttribute("data-refresh"));
  if (!s) { return; }
  setInterval(function () {
    var a = document.activeElement;
    if (a && ["INPUT", "SELECT", "TEXTAREA"].indexOf(a.tagName) >= 0) { return; }
    var u = new URL(location.href);
    u.searchParams.delete("done");
    location.replace(u.toString());
  }, s * 1000);
})();
</script>
</body>
</html>
`))
