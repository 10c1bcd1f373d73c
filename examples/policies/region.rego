# Data stays in the allowed regions: a workload that names its region (the well-known
# topology label, or a plain `region` label) names one of them.
package mlgate.manifest

import rego.v1

allowed_regions := {"eu-west-1", "eu-central-1"}

region_labels := {"topology.kubernetes.io/region", "region"}

deny_region contains msg if {
	some label in region_labels
	region := input.metadata.labels[label]
	not region in allowed_regions
	msg := sprintf("%s/%s: region %q (label %s) is not allowed; allowed: %s", [
		input.kind, input.metadata.name, region, label,
		concat(", ", sort([r | some r in allowed_regions])),
	])
}

deny_region contains msg if {
	some label in region_labels
	region := input.spec.template.spec.nodeSelector[label]
	not region in allowed_regions
	msg := sprintf("%s/%s: scheduled to region %q, not allowed", [input.kind, input.metadata.name, region])
}
