"""Deploying shipline: Kubernetes manifests and Kustomize trees for its workloads."""
