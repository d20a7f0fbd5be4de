"""Ranking agreement for the device check's comparisons (the same rule as CompareTopK in
native/tests/cuda_harness.h and compareTopK in test/helpers.ts).

Strict: the same items in the same order. Up to ties: at every rank, the item `got` puts
there has a reference score within `tie` of the reference's own item at that rank, so only
items the reference scores (nearly) alike trade places. Synthetic models score many documents
within rounding of each other, where the strict order is a coin toss; `tie` is fixed per
element type (bf16's unit roundoff is 8 times fp16's) and below the score tolerance.
"""
import torch

TIES = {"fp16": 1e-3, "bf16": 8e-3}
TIE = TIES["fp16"]


def compare_top_k(want, got, k=None, tie=TIE):
    """Returns (strict, up_to_ties) for the first k items (all when k is None)."""
    k = len(want) if k is None else min(k, len(want))
    a = torch.argsort(want, descending=True)[:k]
    b = torch.argsort(got, descending=True)[:k]
    strict = torch.equal(a, b)
    up_to_ties = bool(((want[a] - want[b]).abs() <= tie).all())
    return strict, up_to_ties


def describe(strict, up_to_ties, tie=TIE):
    return "identical" if strict else (f"identical up to near-ties (< {tie:g})" if up_to_ties else "DIFFERENT")
