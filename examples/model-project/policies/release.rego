# Production requires a bias audit of *this* model version: the audit's front matter names the
# version being promoted (an audit of an earlier model says nothing about this one).
package mlgate.release

import rego.v1

deny_bias_audit contains msg if {
	input.environment == "production"
	count(audits) == 0
	msg := "production needs a bias audit: give --document bias_audit.md:version"
}

deny_bias_audit contains msg if {
	input.environment == "production"
	some path, doc in audits
	format_int_or_string(object.get(doc.front_matter, "model_version", "")) != input.model.version
	msg := sprintf("%s audits model version %v, not the candidate %v", [
		path, object.get(doc.front_matter, "model_version", "(none)"), input.model.version,
	])
}

warn_no_scan contains "no scan result was given to the compliance gate" if input.gates.scan == null

audits[path] := doc if {
	some path, doc in input.documents
	endswith(path, "bias_audit.md")
}

format_int_or_string(v) := sprintf("%d", [v]) if is_number(v)

format_int_or_string(v) := v if is_string(v)
