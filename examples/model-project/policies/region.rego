# Data stays in the allowed regions: a workload that names its region (the well-known
# topology label, or a plain `region` label) names one of them.
package mlgate.manifest

import rego.v1

allowed_regions := {"eu-west-1", "eu-central-1"}

allowed_list := concat(", ", sort([r | some r in allowed_regions]))

region_labels := {"topology.kubernetes.io/region", "region"}

deny_region contains msg if {
	some label in region_labels
	region := input.metadata.labels[label]
	not region in allowed_regions
	# concat, not sprintf: rego-cpp 1.5 quotes another rule's string inside sprintf's %s
	msg := concat("", [
		input.kind, "/", input.metadata.name, ": region \"", region, "\" (label ", label,
		") is not allowed; allowed: ", allowed_list,
	])
}

deny_region contains msg if {
	some label in region_labels
	region := input.spec.template.spec.nodeSelector[label]
	not region in allowed_regions
	msg := sprintf("%s/%s: scheduled to region %s, not allowed", [input.kind, input.metadata.name, region])
}
