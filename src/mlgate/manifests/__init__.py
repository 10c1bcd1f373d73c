"""Byte-exact rewriting of image references and values in GitOps manifests."""
