# A workload that asks for GPUs declares their limit and its CPU and memory limits: a GPU node
# is the most expensive place to let a container grow without bound.
package mlgate.manifest

import rego.v1

gpu_resources := {"nvidia.com/gpu", "amd.com/gpu"}

deny_gpu_without_limits contains msg if {
	some c in gpu_containers
	some resource in {"cpu", "memory"}
	not c.resources.limits[resource]
	msg := sprintf("container %s uses a GPU without a %s limit", [c.name, resource])
}

deny_gpu_without_limits contains msg if {
	some c in gpu_containers
	some gpu in gpu_resources
	object.get(c.resources, ["requests", gpu], null) != null
	object.get(c.resources, ["limits", gpu], null) == null
	msg := sprintf("container %s requests %s without a limit", [c.name, gpu])
}

gpu_containers contains c if {
	some c in all_containers
	some gpu in gpu_resources
	some section in ["requests", "limits"]
	object.get(c, ["resources", section, gpu], null) != null
}

all_containers contains c if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}
	some c in object.get(input.spec.template.spec, "containers", [])
}

all_containers contains c if {
	input.kind == "InferenceService"
	some part in ["predictor", "transformer", "explainer"]
	some key in ["model", "containers"]
	some c in as_list(object.get(input.spec, [part, key], []))
}

as_list(x) := x if is_array(x)

as_list(x) := [object.union({"name": "model"}, x)] if is_object(x)
