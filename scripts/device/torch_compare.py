#!/usr/bin/env python3
"""Sets crossrank's CUDA logits (from `crossrank_cuda_ops --model DIR --dump FILE`) against
transformers on the same weights and inputs, and times PyTorch fp16 (SDPA) side by side.

    torch_compare.py <model_dir> <dump.json> [--parity-only]

Prints: max |logit difference| vs PyTorch fp32, top-10 agreement (strict, and up to
near-ties: scripts/device/ranking.py), the card's measured bf16
matrix rate (torch.matmul, cuBLAS), then a table of pairs/s for PyTorch fp16 SDPA and
crossrank at the dump's batch shapes, with the ratio and crossrank's TFLOP/s as a share of
that rate. --parity-only: the comparison alone (a dump written with the harness's
--parity-only, e.g. the bf16 run). Near-ties follow the dump's element type.
"""
import json
import sys
import time

import torch
from transformers import AutoModelForSequenceClassification

from hf_compat import dtype_kwargs
from ranking import TIES, compare_top_k, describe


def padded(ids, types, cu, device):
    n = len(cu) - 1
    lengths = [cu[i + 1] - cu[i] for i in range(n)]
    width = max(lengths)
    input_ids = torch.zeros(n, width, dtype=torch.long)
    token_type_ids = torch.zeros(n, width, dtype=torch.long)
    mask = torch.zeros(n, width, dtype=torch.long)
    for i in range(n):
        input_ids[i, : lengths[i]] = torch.tensor(ids[cu[i] : cu[i + 1]])
        token_type_ids[i, : lengths[i]] = torch.tensor(types[cu[i] : cu[i + 1]])
        mask[i, : lengths[i]] = 1
    return dict(input_ids=input_ids.to(device), token_type_ids=token_type_ids.to(device), attention_mask=mask.to(device))


def batch_of(pairs, length, vocab, gen):
    lengths = (
        torch.randint(53, 164, (pairs,), generator=gen).tolist() if length == "TREC DL (53-163)" else [int(length)] * pairs
    )
    cu = [0]
    ids, types = [], []
    for n in lengths:
        ids += [101] + torch.randint(1000, vocab, (n - 1,), generator=gen).tolist()
        types += [0] * n
        cu.append(cu[-1] + n)
    return ids, types, cu


def matrix_rate(n=8192, iters=20):
    """The card's dense bf16 matrix-multiply rate as PyTorch (cuBLAS) reaches it: the yardstick
    for crossrank's achieved TFLOP/s."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * iters / (time.perf_counter() - start) / 1e12


def main():
    model_dir, dump_path = sys.argv[1], sys.argv[2]
    parity_only = "--parity-only" in sys.argv[3:]
    dump = json.load(open(dump_path))
    element = dump.get("element", "fp16")
    tie = TIES[element]
    labels = dump["num_labels"]
    ours = torch.tensor(dump["logits_cuda"]).view(-1, labels)

    ref = AutoModelForSequenceClassification.from_pretrained(model_dir, **dtype_kwargs(torch.float32)).cuda().eval()
    with torch.no_grad():
        want = ref(**padded(dump["token_ids"], dump["type_ids"], dump["cu_seqlens"], "cuda")).logits.float().cpu()
    diff = (want - ours).abs().max().item()
    strict, up_to_ties = compare_top_k(want[:, -1], ours[:, -1], 10, tie)
    print(f"PyTorch fp32 vs crossrank CUDA ({element}): max_abs_diff={diff:.3g} top-10 {describe(strict, up_to_ties, tie)}")
    if parity_only:
        return 0 if diff <= 2e-2 and up_to_ties else 1

    fast = AutoModelForSequenceClassification.from_pretrained(
        model_dir, attn_implementation="sdpa", **dtype_kwargs(torch.float16)
    ).cuda().eval()
    gen = torch.Generator().manual_seed(0)
    peak = matrix_rate()
    print(f"measured bf16 matrix rate (torch.matmul 8192^3, cuBLAS): {peak:.0f} TFLOP/s")
    print("| pairs | tokens/pair | PyTorch fp16 SDPA pairs/s | crossrank pairs/s | ratio | crossrank TFLOP/s | share of bf16 rate |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for t in dump["timings"]:
        ids, types, cu = batch_of(t["pairs"], t["length"], ref.config.vocab_size, gen)
        inputs = padded(ids, types, cu, "cuda")
        with torch.no_grad():
            fast(**inputs)
            torch.cuda.synchronize()
            iters = 20 if t["pairs"] == 100 else 5
            start = time.perf_counter()
            for _ in range(iters):
                fast(**inputs)
            torch.cuda.synchronize()
            ms = (time.perf_counter() - start) / iters * 1e3
        theirs = t["pairs"] / (ms / 1e3)
        mine = t["pairs"] / (t["ms"] / 1e3)
        share = t["tflops"] / peak
        print(f"| {t['pairs']} | {t['length']} | {theirs:.0f} | {mine:.0f} | {mine / theirs:.2f}x | {t['tflops']:.1f} | {share:.0%} |")
    return 0 if diff <= 2e-2 and up_to_ties else 1


if __name__ == "__main__":
    sys.exit(main())
