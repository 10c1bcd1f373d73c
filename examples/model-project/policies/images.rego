# Which images may run: from an approved registry, never `latest`, and in production pinned by
# digest (a tag can be moved to other bytes after the gates judged them).
package mlgate.manifest

import rego.v1

approved_registries := {"registry.example.com/ml/", "ghcr.io/example-org/"}

approved_list := concat(", ", sort([r | some r in approved_registries]))

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "Pod"}

# every image a document names, with where it is named
images contains {"where": sprintf("container %s", [c.name]), "ref": c.image} if {
	input.kind in workload_kinds
	some c in pod_containers
}

images contains {"where": sprintf("container %s", [c.name]), "ref": c.image} if {
	input.kind == "CronJob"
	some c in array.concat(
		object.get(input.spec.jobTemplate.spec.template.spec, "containers", []),
		object.get(input.spec.jobTemplate.spec.template.spec, "initContainers", []),
	)
}

images contains {"where": "kustomize images", "ref": ref} if {
	input.kind == "Kustomization"
	some img in input.images
	ref := kustomize_ref(img)
}

pod_containers := array.concat(
	object.get(pod_spec, "containers", []),
	object.get(pod_spec, "initContainers", []),
)

pod_spec := input.spec if input.kind == "Pod"

pod_spec := input.spec.template.spec if input.kind != "Pod"

kustomize_ref(img) := sprintf("%s@%s", [object.get(img, "newName", img.name), img.digest]) if img.digest

kustomize_ref(img) := sprintf("%s:%s", [object.get(img, "newName", img.name), img.newTag]) if {
	not img.digest
	img.newTag
}

kustomize_ref(img) := object.get(img, "newName", img.name) if {
	not img.digest
	not img.newTag
}

# the tag of a reference without a digest: what follows the last ':' unless that is a port
tag_of(ref) := tag if {
	parts := split(ref, ":")
	count(parts) > 1
	tag := parts[count(parts) - 1]
	not contains(tag, "/")
}

deny_unapproved_registry contains msg if {
	some img in images
	not startswith_any(img.ref, approved_registries)
	# concat, not sprintf: rego-cpp 1.5 quotes another rule's string inside sprintf's %s
	msg := concat("", [img.where, ": ", img.ref, " is not from an approved registry (", approved_list, ")"])
}

deny_latest contains msg if {
	some img in images
	not contains(img.ref, "@")
	not tag_of(img.ref)
	msg := sprintf("%s: %s has no tag (it means :latest)", [img.where, img.ref])
}

deny_latest contains msg if {
	some img in images
	not contains(img.ref, "@")
	tag_of(img.ref) == "latest"
	msg := sprintf("%s: %s uses :latest", [img.where, img.ref])
}

deny_mutable_tag_in_production contains msg if {
	data.mlgate.environment == "production"
	some img in images
	not contains(img.ref, "@sha256:")
	msg := sprintf("%s: %s is not pinned by digest in production", [img.where, img.ref])
}

startswith_any(s, prefixes) if {
	some p in prefixes
	startswith(s, p)
}
